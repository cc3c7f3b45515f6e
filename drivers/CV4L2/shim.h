// CV4L2: the parts of <linux/videodev2.h> that Swift cannot import.
//
// Swift imports the kernel's structs (v4l2_capability, v4l2_format,
// v4l2_buffer, ...) and plain integer #defines directly from the header.
// What it cannot import are function-like macros: the VIDIOC_* request codes
// (_IOR/_IOWR with sizeof) and the V4L2_PIX_FMT_* fourccs (v4l2_fourcc()),
// and the variadic ioctl(2). This header carries exactly those, nothing else.
#ifndef TRW_CV4L2_SHIM_H
#define TRW_CV4L2_SHIM_H

#include <linux/videodev2.h>
#include <sys/ioctl.h>

// Request codes.
static const unsigned long trw_VIDIOC_QUERYCAP = VIDIOC_QUERYCAP;
static const unsigned long trw_VIDIOC_ENUM_FMT = VIDIOC_ENUM_FMT;
static const unsigned long trw_VIDIOC_ENUM_FRAMESIZES = VIDIOC_ENUM_FRAMESIZES;
static const unsigned long trw_VIDIOC_ENUM_FRAMEINTERVALS = VIDIOC_ENUM_FRAMEINTERVALS;
static const unsigned long trw_VIDIOC_G_FMT = VIDIOC_G_FMT;
static const unsigned long trw_VIDIOC_S_FMT = VIDIOC_S_FMT;
static const unsigned long trw_VIDIOC_TRY_FMT = VIDIOC_TRY_FMT;
static const unsigned long trw_VIDIOC_G_PARM = VIDIOC_G_PARM;
static const unsigned long trw_VIDIOC_S_PARM = VIDIOC_S_PARM;
static const unsigned long trw_VIDIOC_REQBUFS = VIDIOC_REQBUFS;
static const unsigned long trw_VIDIOC_QUERYBUF = VIDIOC_QUERYBUF;
static const unsigned long trw_VIDIOC_QBUF = VIDIOC_QBUF;
static const unsigned long trw_VIDIOC_DQBUF = VIDIOC_DQBUF;
static const unsigned long trw_VIDIOC_STREAMON = VIDIOC_STREAMON;
static const unsigned long trw_VIDIOC_STREAMOFF = VIDIOC_STREAMOFF;
// Controls (the kernel checks press vivid's "Disconnect" button to unplug the camera).
static const unsigned long trw_VIDIOC_QUERYCTRL = VIDIOC_QUERYCTRL;
static const unsigned long trw_VIDIOC_S_CTRL = VIDIOC_S_CTRL;

// Pixel formats (fourccs).
static const __u32 trw_V4L2_PIX_FMT_Y16 = V4L2_PIX_FMT_Y16;
static const __u32 trw_V4L2_PIX_FMT_Y16_BE = V4L2_PIX_FMT_Y16_BE;
static const __u32 trw_V4L2_PIX_FMT_Y12 = V4L2_PIX_FMT_Y12;
static const __u32 trw_V4L2_PIX_FMT_Y10 = V4L2_PIX_FMT_Y10;
static const __u32 trw_V4L2_PIX_FMT_GREY = V4L2_PIX_FMT_GREY;
static const __u32 trw_V4L2_PIX_FMT_YUYV = V4L2_PIX_FMT_YUYV;

// ioctl(2) is variadic; this fixes the third argument to a pointer.
static inline int trw_v4l2_ioctl(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}

#endif
