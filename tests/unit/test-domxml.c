/* SPDX-License-Identifier: MIT */
/* Hostdevs as libvirt's status files show them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domxml.h"

/* A status file as libvirt 9.0 writes it for a running domain with a GPU and a USB keyboard. */
static const char status_xml[] =
	"<domstatus state='running' reason='booted' pid='4242'>\n"
	"  <domain type='qemu' id='3'>\n"
	"    <name>a</name>\n"
	"    <devices>\n"
	"      <hostdev mode='subsystem' type='pci' managed='no'>\n"
	"        <driver name='vfio'/>\n"
	"        <source>\n"
	"          <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
	"        </source>\n"
	"        <alias name='hostdev0'/>\n"
	"        <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>\n"
	"      </hostdev>\n"
	"      <hostdev mode='subsystem' type='pci' managed='yes'>\n"
	"        <source>\n"
	"          <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
	"        </source>\n"
	"        <alias name='hostdev1'/>\n"
	"      </hostdev>\n"
	"      <hostdev mode='subsystem' type='usb' managed='no'>\n"
	"        <source>\n"
	"          <vendor id='0x0627'/>\n"
	"          <product id='0x0001'/>\n"
	"          <address bus='1' device='2'/>\n"
	"        </source>\n"
	"        <alias name='hostdev2'/>\n"
	"      </hostdev>\n"
	"    </devices>\n"
	"  </domain>\n"
	"</domstatus>\n";

static void test_status_hostdevs(void **state)
{
	struct domain d;
	struct pci_addr f0 = { 0, 1, 0, 0 }, f1 = { 0, 1, 0, 1 };

	(void)state;
	assert_int_equal(domain_parse(status_xml, strlen(status_xml), &d), 0);
	assert_string_equal(d.name, "a");
	assert_int_equal(d.n_hostdevs, 2);
	assert_true(domain_has(&d, &f0) && domain_has(&d, &f1));
	assert_string_equal(domain_hostdev(&d, &f0)->alias, "hostdev0");
	assert_false(domain_hostdev(&d, &f0)->managed);
	assert_true(domain_hostdev(&d, &f1)->managed);
	/* What give-back hot-plugs: one line, the guest address kept, libvirt's alias dropped. */
	assert_string_equal(domain_hostdev(&d, &f0)->xml,
			    "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\">         <driver name=\"vfio\"/>  "
			    "       <source>           <address domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" "
			    "function=\"0x0\"/>         </source>                  <address type=\"pci\" "
			    "domain=\"0x0000\" bus=\"0x02\" slot=\"0x00\" function=\"0x0\"/>       </hostdev>");
	assert_int_equal(d.n_usbdevs, 1);
	assert_int_equal(d.usbdevs[0].vendor, 0x0627);
	assert_int_equal(d.usbdevs[0].product, 0x0001);
	assert_int_equal(d.usbdevs[0].bus, 1);
	assert_int_equal(d.usbdevs[0].device, 2);
	assert_null(strstr(d.usbdevs[0].xml, "alias"));
	domain_clear(&d);
	assert_int_equal(domain_parse("<domain><devices/></domain>", 27, &d), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_hostdevs),
	};

	return cmocka_run_group_tests_name("domxml", tests, NULL, NULL);
}
