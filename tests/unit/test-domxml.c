/* SPDX-License-Identifier: MIT */
/* Hostdevs as libvirt's status files show them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domxml.h"
#include "holders.h"
#include "util.h"

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
	assert_string_equal(d.uuid, "");
	assert_int_equal(d.id, 3);
	domain_clear(&d);
	assert_int_equal(domain_parse("<domain><devices/></domain>", 27, &d), -22);
}

/*
 * A status file (libvirt 9.0) of a router VM with SR-IOV NIC functions: one given directly as
 * <interface type='hostdev'>, one from a hostdev network pool, which only the status file
 * resolves (<actual>), and a plain bridged NIC that holds no host function.
 */
static const char status_nics[] =
	"<domstatus state='running' reason='booted' pid='5151'>\n"
	"  <domain type='kvm' id='17'>\n"
	"    <name>router</name>\n"
	"    <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
	"    <devices>\n"
	"      <interface type='hostdev' managed='yes'>\n"
	"        <mac address='52:54:00:6d:90:02'/>\n"
	"        <driver name='vfio'/>\n"
	"        <source>\n"
	"          <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x1'/>\n"
	"        </source>\n"
	"        <alias name='hostdev0'/>\n"
	"        <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"
	"      </interface>\n"
	"      <interface type='network'>\n"
	"        <mac address='52:54:00:6d:90:03'/>\n"
	"        <source network='sriov-pool'/>\n"
	"        <actual type='hostdev' managed='yes'>\n"
	"          <driver name='vfio'/>\n"
	"          <source>\n"
	"            <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x3'/>\n"
	"          </source>\n"
	"        </actual>\n"
	"        <alias name='hostdev1'/>\n"
	"      </interface>\n"
	"      <interface type='bridge'>\n"
	"        <mac address='52:54:00:6d:90:04'/>\n"
	"        <source bridge='br0'/>\n"
	"        <target dev='vnet3'/>\n"
	"        <model type='virtio'/>\n"
	"        <alias name='net0'/>\n"
	"      </interface>\n"
	"      <hostdev mode='subsystem' type='pci' managed='no'>\n"
	"        <source>\n"
	"          <address domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>\n"
	"        </source>\n"
	"        <alias name='hostdev2'/>\n"
	"      </hostdev>\n"
	"    </devices>\n"
	"  </domain>\n"
	"</domstatus>\n";

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_status_interfaces(void **state)
{
	struct domain d;
	struct holders h = { 0 };
	struct pci_addr vf1 = { 0, 3, 0x10, 1 }, vf3 = { 0, 3, 0x10, 3 }, hd = { 0, 5, 0, 0 };
	const struct hostdev *a, *b;

	(void)state;
	assert_int_equal(domain_parse(status_nics, strlen(status_nics), &d), 0);
	assert_string_equal(d.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
	assert_int_equal(d.id, 17);
	assert_int_equal(d.n_hostdevs, 3);
	a = domain_hostdev(&d, &vf1);
	b = domain_hostdev(&d, &vf3);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(domain_has(&d, &hd));
	assert_true(a->managed && b->managed);
	assert_false(domain_hostdev(&d, &hd)->managed);
	assert_string_equal(a->alias, "hostdev0");
	assert_string_equal(b->alias, "hostdev1");
	/* Give-back plugs the interface back as an interface: its MAC and guest address kept. */
	assert_true(starts(a->xml, "<interface type=\"hostdev\" managed=\"yes\">"));
	assert_non_null(strstr(a->xml, "52:54:00:6d:90:02"));
	assert_null(strstr(a->xml, "alias"));
	assert_true(starts(b->xml, "<interface type=\"network\">"));
	assert_non_null(strstr(b->xml, "sriov-pool"));
	assert_null(strstr(b->xml, "alias"));
	/* So another VM's start sees them held. */
	h.doms = &d;
	h.n = 1;
	assert_string_equal(holders_find(&h, &vf1, "other"), "router");
	assert_string_equal(holders_find(&h, &vf3, "other"), "router");
	assert_null(holders_find(&h, &vf3, "router"));
	domain_clear(&d);
	assert_int_equal(d.id, -1);
}

/* A defined domain's XML (not running): its <uuid>, no id; <interface type='hostdev'> counts. */
static void test_inactive_identity(void **state)
{
	static const char xml[] = "<domain type='kvm'><name>nic</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>"
				  "<devices><interface type='hostdev'><source><address type='pci' domain='0x0000' "
				  "bus='0x03' slot='0x10' function='0x2'/></source></interface></devices></domain>";
	struct pci_addr vf = { 0, 3, 0x10, 2 };
	struct domain d;

	(void)state;
	assert_int_equal(domain_parse(xml, strlen(xml), &d), 0);
	assert_string_equal(d.uuid, "c7a5fdbd-cdaf-9455-926a-d65c16db1809");
	assert_int_equal(d.id, -1);
	assert_true(domain_has(&d, &vf));
	assert_false(domain_hostdev(&d, &vf)->managed);
	assert_null(domain_hostdev(&d, &vf)->alias);
	domain_clear(&d);
}

/*
 * A status file with raw host disks: a partition by its by-id link, and an LVM volume whose
 * block-device backing chain libvirt shows; a file disk and a CD-ROM without media are no
 * host block devices.
 */
static void test_status_block_disks(void **state)
{
	static const char xml[] =
		"<domstatus state='running' pid='4242'><domain type='kvm' id='5'><name>db</name><devices>"
		"<disk type='block' device='disk'><driver name='qemu' type='raw'/>"
		"<source dev='/dev/disk/by-id/nvme-X-part2' index='2'/><backingStore/><target dev='vdb' bus='virtio'/></disk>"
		"<disk type='file' device='disk'><source file='/var/lib/libvirt/images/db.qcow2'/>"
		"<backingStore type='block' index='3'><format type='raw'/><source dev='/dev/vg/base'/><backingStore/>"
		"</backingStore><target dev='vda' bus='virtio'/></disk>"
		"<disk type='block' device='cdrom'><target dev='sda' bus='sata'/></disk>"
		"</devices></domain></domstatus>";
	struct domain d;

	(void)state;
	assert_int_equal(domain_parse(xml, strlen(xml), &d), 0);
	assert_int_equal(d.n_disks, 2);
	assert_string_equal(d.disks[0], "/dev/disk/by-id/nvme-X-part2");
	assert_string_equal(d.disks[1], "/dev/vg/base");
	domain_clear(&d);
	assert_int_equal(d.n_disks, 0);
}

/* What a domain takes from the host besides its devices: its pins, memory, hugepages, NUMA. */
static void test_resources(void **state)
{
	static const char xml[] =
		"<domain type='kvm'><name>win10</name><memory unit='GiB'>8</memory>"
		"<memoryBacking><hugepages><page size='1' unit='G' nodeset='0'/><page size='2048' unit='KiB'/></hugepages></memoryBacking>"
		"<cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3,10'/><emulatorpin cpuset='0-7,^1-6'/>"
		"<iothreadpin iothread='1' cpuset='12'/></cputune>"
		"<cpu><numa><cell id='0' cpus='0' memory='6' unit='GiB'/><cell id='1' cpus='1' memory='2097152'/></numa></cpu>"
		"<numatune><memory mode='strict' nodeset='1'/></numatune><devices/></domain>";
	struct domain d;
	char buf[64];

	(void)state;
	assert_int_equal(domain_parse(xml, strlen(xml), &d), 0);
	assert_true(d.pinned);
	cpuset_format(&d.pins, buf, sizeof(buf));
	assert_string_equal(buf, "0,2-3,7,10,12");
	assert_int_equal(d.memory_kib, 8ULL * 1048576);
	assert_true(d.hugepages);
	assert_int_equal(d.n_pages, 2);
	assert_int_equal(d.pages[0].size_kib, 1048576);
	assert_string_equal(d.pages[0].nodeset, "0");
	assert_int_equal(d.pages[1].size_kib, 2048);
	assert_null(d.pages[1].nodeset);
	assert_int_equal(d.n_cells, 2);
	assert_int_equal(d.cells[0].kib, 6ULL * 1048576);
	assert_int_equal(d.cells[1].kib, 2097152);
	assert_string_equal(d.numa_nodes, "1");
	assert_null(d.resources_bad);
	domain_clear(&d);
}

/* What cannot be read is said, and only a claim of it refuses: the rest of the XML still reads. */
static void test_resources_bad(void **state)
{
	static const char *const xml[] = {
		"<domain><name>a</name><cputune><vcpupin vcpu='0' cpuset='2-x'/></cputune><devices/></domain>",
		"<domain><name>a</name><memory>1048576</memory><memoryBacking><hugepages><page size='2' unit='parsecs'/>"
		"</hugepages></memoryBacking><devices/></domain>",
		"<domain><name>a</name><memory>lots</memory><memoryBacking><hugepages/></memoryBacking><devices/></domain>",
	};
	static const char *const said[] = { "<vcpupin cpuset='2-x'> is not a set of CPUs",
					    "<page size='2'> is not a page size vfio-hook can read", "its <memory> cannot be read" };
	static const struct {
		const char *value, *unit;
		unsigned long long kib;
	} units[] = { { "1", "G", 1048576 }, { "1", "gib", 1048576 }, { "1000", "KB", 976 }, { "2048", NULL, 2048 },
		      { "2", "MiB", 2048 }, { "1", "T", 1073741824ULL }, { "4096", "b", 4 }, { "1", "GB", 976562 } };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(xml); i++) {
		struct domain d;

		assert_int_equal(domain_parse(xml[i], strlen(xml[i]), &d), 0);
		assert_string_equal(d.name, "a");
		assert_non_null(d.resources_bad);
		assert_string_equal(d.resources_bad, said[i]);
		domain_clear(&d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		char *x = xasprintf("<domain><name>a</name><memory%s%s%s>%s</memory><devices/></domain>", units[i].unit ? " unit='" : "",
				    units[i].unit ? units[i].unit : "", units[i].unit ? "'" : "", units[i].value);
		struct domain d;

		assert_int_equal(domain_parse(x, strlen(x), &d), 0);
		assert_int_equal(d.memory_kib, units[i].kib);
		domain_clear(&d);
		free(x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_hostdevs),
		cmocka_unit_test(test_status_interfaces),
		cmocka_unit_test(test_inactive_identity),
		cmocka_unit_test(test_status_block_disks),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_resources_bad),
	};

	return cmocka_run_group_tests_name("domxml", tests, NULL, NULL);
}
