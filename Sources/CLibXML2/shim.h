#ifndef CLIBXML2_SHIM_H
#define CLIBXML2_SHIM_H
/* Debian builds libxml2 with ICU; its headers clash with Foundation's ICU copy. We never touch the ICU fields. */
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>
#include <libxml/xmlwriter.h>

/* xmlFree is a C global function pointer that Swift 6 refuses to touch. */
static inline void shim_xmlFree(void *p) { xmlFree(p); }
static inline int shim_xmlParserVersion(void) { return LIBXML_VERSION; }
#endif
