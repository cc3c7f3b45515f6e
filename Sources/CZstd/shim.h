#ifndef TRW_CZSTD_SHIM_H
#define TRW_CZSTD_SHIM_H
#include <zstd.h>
#endif
