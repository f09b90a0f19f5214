/* Stand-in for `cargo check` of Apple targets on Linux (see TargetConditionals.h). */
#pragma once
#define assert(condition) ((void)0)
