/* Stand-in for `cargo check` of Apple targets on Linux (see TargetConditionals.h). */
#pragma once
#include <stddef.h>
void abort(void);
void *malloc(size_t n);
void free(void *p);
