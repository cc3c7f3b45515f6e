#ifndef TRW_CSERIAL_SHIM_H
#define TRW_CSERIAL_SHIM_H
// Header-only shim for what Swift cannot import from the Linux tty API:
// the ioctl request codes (function-like _IOR/_IOW macros), struct termios2
// and BOTHER (arbitrary baud rates through TCGETS2/TCSETS2), struct
// serial_rs485 and its SER_RS485_* flags, and ioctl itself (variadic).
//
// The kernel's <asm/termbits.h> also defines a `struct termios` that clashes
// with glibc's; it is renamed here so only `struct termios2` is visible.
// Constants are re-exported with a trw_ prefix so Swift never has to pick
// between a glibc and a kernel macro of the same name (NCCS differs: 32 vs 19).

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/serial.h>

#define termios trw_kernel_termios_unused
#include <asm/termbits.h>
#undef termios

typedef struct termios2 trw_termios2;
typedef struct serial_rs485 trw_serial_rs485;

// ioctl request codes
static const unsigned long trw_TCGETS2 = TCGETS2;
static const unsigned long trw_TCSETS2 = TCSETS2;
static const unsigned long trw_TCGETS = TCGETS;
static const unsigned long trw_TIOCEXCL = TIOCEXCL;
static const unsigned long trw_TIOCNXCL = TIOCNXCL;
static const unsigned long trw_TIOCGEXCL = TIOCGEXCL;
static const unsigned long trw_TIOCGRS485 = TIOCGRS485;
static const unsigned long trw_TIOCSRS485 = TIOCSRS485;
static const unsigned long trw_TCFLSH = TCFLSH;
// pseudo-terminal master: unlock the slave, get its number (tests play instruments on ptys)
static const unsigned long trw_TIOCSPTLCK = TIOCSPTLCK;
static const unsigned long trw_TIOCGPTN = TIOCGPTN;
static const unsigned long trw_TCSBRK = TCSBRK;
static const int trw_TCIFLUSH = TCIFLUSH;
static const int trw_TCIOFLUSH = TCIOFLUSH;

// termios2 c_cflag
static const tcflag_t trw_CBAUD = CBAUD;
static const tcflag_t trw_BOTHER = BOTHER;
static const tcflag_t trw_CBAUDEX = CBAUDEX;
static const tcflag_t trw_CSIZE = CSIZE;
static const tcflag_t trw_CS5 = CS5;
static const tcflag_t trw_CS6 = CS6;
static const tcflag_t trw_CS7 = CS7;
static const tcflag_t trw_CS8 = CS8;
static const tcflag_t trw_CSTOPB = CSTOPB;
static const tcflag_t trw_CREAD = CREAD;
static const tcflag_t trw_PARENB = PARENB;
static const tcflag_t trw_PARODD = PARODD;
static const tcflag_t trw_CMSPAR = CMSPAR;
static const tcflag_t trw_HUPCL = HUPCL;
static const tcflag_t trw_CLOCAL = CLOCAL;
static const tcflag_t trw_CRTSCTS = CRTSCTS;
static const unsigned int trw_IBSHIFT = IBSHIFT;
// termios2 c_iflag
static const tcflag_t trw_IGNBRK = IGNBRK;
static const tcflag_t trw_BRKINT = BRKINT;
static const tcflag_t trw_IGNPAR = IGNPAR;
static const tcflag_t trw_PARMRK = PARMRK;
static const tcflag_t trw_INPCK = INPCK;
static const tcflag_t trw_ISTRIP = ISTRIP;
static const tcflag_t trw_INLCR = INLCR;
static const tcflag_t trw_IGNCR = IGNCR;
static const tcflag_t trw_ICRNL = ICRNL;
static const tcflag_t trw_IXON = IXON;
static const tcflag_t trw_IXANY = IXANY;
static const tcflag_t trw_IXOFF = IXOFF;
// termios2 c_oflag
static const tcflag_t trw_OPOST = OPOST;
// termios2 c_lflag
static const tcflag_t trw_ISIG = ISIG;
static const tcflag_t trw_ICANON = ICANON;
static const tcflag_t trw_ECHO = ECHO;
static const tcflag_t trw_ECHONL = ECHONL;
static const tcflag_t trw_IEXTEN = IEXTEN;
// c_cc indices
static const int trw_VMIN = VMIN;
static const int trw_VTIME = VTIME;
static const int trw_VSTART = VSTART;
static const int trw_VSTOP = VSTOP;

// struct serial_rs485 flags
static const uint32_t trw_SER_RS485_ENABLED = SER_RS485_ENABLED;
static const uint32_t trw_SER_RS485_RTS_ON_SEND = SER_RS485_RTS_ON_SEND;
static const uint32_t trw_SER_RS485_RTS_AFTER_SEND = SER_RS485_RTS_AFTER_SEND;
static const uint32_t trw_SER_RS485_RX_DURING_TX = SER_RS485_RX_DURING_TX;

// ioctl is variadic: one non-variadic wrapper per argument shape.
static inline int trw_ioctl_ptr(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}
static inline int trw_ioctl_int(int fd, unsigned long request, int arg) {
    return ioctl(fd, request, arg);
}
static inline int trw_ioctl_none(int fd, unsigned long request) {
    return ioctl(fd, request);
}

#endif
