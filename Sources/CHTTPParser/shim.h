#ifndef CHTTPPARSER_SHIM_H
#define CHTTPPARSER_SHIM_H
#include <http_parser.h>
static inline enum http_errno shim_http_errno(const http_parser *p) { return HTTP_PARSER_ERRNO(p); }
#endif
