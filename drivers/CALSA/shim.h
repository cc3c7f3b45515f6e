#ifndef TRW_CALSA_SHIM_H
#define TRW_CALSA_SHIM_H
// alsa-lib (Debian libasound2-dev). Only what Swift cannot import lives here:
// macro constants and variadic APIs, as static inline helpers.
#include <alsa/asoundlib.h>
#include <errno.h>

/// SND_PCM_NONBLOCK (a macro): open without blocking, used when probing devices.
static const int TRW_SND_PCM_NONBLOCK = SND_PCM_NONBLOCK;

/// snd_lib_error_set_handler takes a variadic handler Swift cannot write.
/// trw reports every failing return code itself, so alsa-lib's own stderr
/// chatter (for example while probing a busy device) is silenced.
static void trw_alsa_silent_error_handler(const char *file, int line, const char *function, int err,
                                          const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}
static inline int trw_alsa_silence_library_errors(void) {
    return snd_lib_error_set_handler(trw_alsa_silent_error_handler);
}
/// Restores alsa-lib's default handler (printing to stderr).
static inline int trw_alsa_default_library_errors(void) {
    return snd_lib_error_set_handler(NULL);
}
#endif
