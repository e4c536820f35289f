/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pciaddr.h"

static void addr_roundtrip(const char *in, const char *canon)
{
	struct pci_addr a;
	char buf[PCI_ADDR_LEN];

	assert_int_equal(pci_addr_parse(in, &a), 0);
	pci_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, canon);
}

static void test_addresses(void **state)
{
	struct pci_addr a;
	static const char *const bad[] = { "", "09:00", "09:00.8", "9:00.0", "0000:09:20.0", "000:09:00.0",
					   "0000:9:00.0", "0000:09:00.0x", "0000:09:00.", "g9:00.0", "09.00.0",
					   "0000:09:00:0", "0000::09:00.0" };

	(void)state;
	addr_roundtrip("09:00.0", "0000:09:00.0");
	addr_roundtrip("0000:09:00.3", "0000:09:00.3");
	addr_roundtrip("0000:0A:1f.7", "0000:0a:1f.7");
	addr_roundtrip("10000:e1:00.0", "10000:e1:00.0"); /* VMD domains have 5 digits */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pci_addr_parse(bad[i], &a), -22);
}

static void test_selectors(void **state)
{
	struct pci_sel s, t;
	struct usb_sel u, v;
	char buf[PCI_ADDR_LEN];

	(void)state;
	assert_int_equal(pci_sel_parse("10DE:1e84", &s), 0);
	assert_false(s.is_addr);
	assert_int_equal(s.vendor, 0x10de);
	assert_int_equal(s.device, 0x1e84);
	pci_sel_format(&s, buf, sizeof(buf));
	assert_string_equal(buf, "10de:1e84");
	assert_int_equal(pci_sel_parse("10de:1e84", &t), 0);
	assert_true(pci_sel_eq(&s, &t));
	assert_int_equal(pci_sel_parse("09:00.0", &t), 0);
	assert_true(t.is_addr);
	assert_false(pci_sel_eq(&s, &t));
	assert_int_equal(pci_sel_parse("10de:1e8", &s), -22);
	assert_int_equal(pci_sel_parse("10de", &s), -22);
	assert_int_equal(pci_sel_parse("10de:1e845", &s), -22);

	assert_int_equal(usb_sel_parse("046d:C539", &u), 0);
	assert_false(u.any_product);
	assert_int_equal(u.product, 0xc539);
	assert_int_equal(usb_sel_parse("0416", &v), 0);
	assert_true(v.any_product);
	assert_false(usb_sel_eq(&u, &v));
	assert_int_equal(usb_sel_parse("46d:c539", &u), -22);
	assert_int_equal(usb_sel_parse("046d:", &u), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_selectors),
	};

	return cmocka_run_group_tests_name("pciaddr", tests, NULL, NULL);
}
