// zlib (Debian zlib1g-dev) for PNG's deflate stream.
#include <zlib.h>
