/* SPDX-License-Identifier: MIT */
#ifndef VH_DL_H
#define VH_DL_H

/*
 * libvirt and libxml2 are opened with dlopen() by the code that needs them, here and nowhere
 * else: linked, the dynamic loader maps libvirt's ~55 dependencies and libxml2's ICU at every
 * start, and libvirt runs the hook five times per start and stop of every VM on the host, nearly
 * always to do nothing. The headers still type-check every call: each sym_NAME has NAME's type.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlIO.h>
#include <libxml/xpath.h>

#define DL_LIBVIRT_SYMS(X)            \
	X(virConnectClose)            \
	X(virConnectListAllDomains)   \
	X(virConnectOpen)             \
	X(virDomainAttachDeviceFlags) \
	X(virDomainDetachDeviceAlias) \
	X(virDomainDetachDeviceFlags) \
	X(virDomainFree)              \
	X(virDomainGetName)           \
	X(virDomainGetXMLDesc)        \
	X(virDomainIsActive)          \
	X(virDomainLookupByName)      \
	X(virDomainShutdown)          \
	X(virGetLastError)            \
	X(virSetErrorFunc)

#define DL_LIBXML2_SYMS(X)                  \
	X(xmlBufContent)                    \
	X(xmlBufUse)                        \
	X(xmlBufferContent)                 \
	X(xmlBufferCreate)                  \
	X(xmlBufferFree)                    \
	X(xmlCopyNode)                      \
	X(xmlFreeDoc)                       \
	X(xmlFreeNode)                      \
	X(xmlFreeParserInputBuffer)         \
	X(xmlGetProp)                       \
	X(xmlNodeDump)                      \
	X(xmlNodeGetContent)                \
	X(xmlParserInputBufferCreateFilename) \
	X(xmlParserInputBufferRead)         \
	X(xmlReadMemory)                    \
	X(xmlUnlinkNode)                    \
	X(xmlXPathEvalExpression)           \
	X(xmlXPathFreeContext)              \
	X(xmlXPathFreeObject)               \
	X(xmlXPathNewContext)

#define DL_DECLARE(f) extern __typeof__(f) *sym_##f;
DL_LIBVIRT_SYMS(DL_DECLARE)
DL_LIBXML2_SYMS(DL_DECLARE)
#undef DL_DECLARE

/* What libxml2 hands out (xmlGetProp, xmlNodeGetContent) goes back through its own free. */
void dl_xml_free(void *p);

/*
 * 0 once the library and every symbol above are there; else -ENOPKG and *ret_why says, in one
 * line, what is missing and what to install. Loaded once, for the life of the process.
 */
int dlopen_libvirt(const char **ret_why);
/* The same for libxml2, whose callers cannot carry a message: the error is logged, once. */
int dlopen_libxml2(void);

#endif
