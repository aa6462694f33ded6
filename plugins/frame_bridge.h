// GstVideoFrame <-> framegen Frame. A mapped GstVideoFrame is wrapped without
// copying (the Frame borrows its planes for the duration of the call); results
// are copied plane by plane into the mapped output frame.
#pragma once

#include <gst/video/video.h>

#include "framegen/pipeline/frame.h"

extern "C" {
#include <libavutil/pixfmt.h>
}

namespace framegen::gst {

// AV_PIX_FMT_NONE when the format is not supported.
AVPixelFormat to_av_format(GstVideoFormat format);

// The libav matrix for a GStreamer one (BT.601 for unknown).
AVColorSpace to_av_colorspace(GstVideoColorMatrix matrix);

// A Frame borrowing the planes of `vframe` (not refcounted: do not keep it).
Frame wrap(const GstVideoFrame* vframe, GstClockTime pts);

// Copies `src` (same size and format as `dst`) into the mapped output frame.
void copy_into(const Frame& src, GstVideoFrame* dst);

// The raw-video caps the elements accept (formats, any size and rate).
#define FRAMEGEN_VIDEO_CAPS                                                                                   \
  GST_VIDEO_CAPS_MAKE(                                                                                        \
      "{ I420, Y42B, Y444, NV12, NV21, YUY2, UYVY, RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420_10LE, " \
      "I422_10LE, Y444_10LE, P010_10LE }")

}  // namespace framegen::gst
