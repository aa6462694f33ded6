#include "frame_bridge.h"

#include <cstring>

#include "framegen/pipeline/error.h"

extern "C" {
#include <libavutil/frame.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace framegen::gst {

AVPixelFormat to_av_format(GstVideoFormat format) {
  switch (format) {
    case GST_VIDEO_FORMAT_I420:
      return AV_PIX_FMT_YUV420P;
    case GST_VIDEO_FORMAT_Y42B:
      return AV_PIX_FMT_YUV422P;
    case GST_VIDEO_FORMAT_Y444:
      return AV_PIX_FMT_YUV444P;
    case GST_VIDEO_FORMAT_NV12:
      return AV_PIX_FMT_NV12;
    case GST_VIDEO_FORMAT_NV21:
      return AV_PIX_FMT_NV21;
    case GST_VIDEO_FORMAT_YUY2:
      return AV_PIX_FMT_YUYV422;
    case GST_VIDEO_FORMAT_UYVY:
      return AV_PIX_FMT_UYVY422;
    case GST_VIDEO_FORMAT_RGB:
      return AV_PIX_FMT_RGB24;
    case GST_VIDEO_FORMAT_BGR:
      return AV_PIX_FMT_BGR24;
    case GST_VIDEO_FORMAT_RGBx:
      return AV_PIX_FMT_RGB0;
    case GST_VIDEO_FORMAT_BGRx:
      return AV_PIX_FMT_BGR0;
    case GST_VIDEO_FORMAT_xRGB:
      return AV_PIX_FMT_0RGB;
    case GST_VIDEO_FORMAT_xBGR:
      return AV_PIX_FMT_0BGR;
    case GST_VIDEO_FORMAT_RGBA:
      return AV_PIX_FMT_RGBA;
    case GST_VIDEO_FORMAT_BGRA:
      return AV_PIX_FMT_BGRA;
    case GST_VIDEO_FORMAT_I420_10LE:
      return AV_PIX_FMT_YUV420P10LE;
    case GST_VIDEO_FORMAT_I422_10LE:
      return AV_PIX_FMT_YUV422P10LE;
    case GST_VIDEO_FORMAT_Y444_10LE:
      return AV_PIX_FMT_YUV444P10LE;
    case GST_VIDEO_FORMAT_P010_10LE:
      return AV_PIX_FMT_P010LE;
    default:
      return AV_PIX_FMT_NONE;
  }
}

AVColorSpace to_av_colorspace(GstVideoColorMatrix matrix) {
  switch (matrix) {
    case GST_VIDEO_COLOR_MATRIX_RGB:
      return AVCOL_SPC_RGB;
    case GST_VIDEO_COLOR_MATRIX_FCC:
      return AVCOL_SPC_FCC;
    case GST_VIDEO_COLOR_MATRIX_BT709:
      return AVCOL_SPC_BT709;
    case GST_VIDEO_COLOR_MATRIX_SMPTE240M:
      return AVCOL_SPC_SMPTE240M;
    case GST_VIDEO_COLOR_MATRIX_BT2020:
      return AVCOL_SPC_BT2020_NCL;
    default:  // BT601, and unknown (GStreamer's default for SD sizes)
      return AVCOL_SPC_BT470BG;
  }
}

Frame wrap(const GstVideoFrame* vframe, GstClockTime pts) {
  AvFramePtr f = make_av_frame();
  f->width = GST_VIDEO_FRAME_WIDTH(vframe);
  f->height = GST_VIDEO_FRAME_HEIGHT(vframe);
  f->format = to_av_format(GST_VIDEO_FRAME_FORMAT(vframe));
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(vframe) && p < 4; ++p) {
    f->data[p] = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(vframe, p));
    f->linesize[p] = GST_VIDEO_FRAME_PLANE_STRIDE(vframe, p);
  }
  const GstVideoColorimetry& c = vframe->info.colorimetry;
  f->color_range = c.range == GST_VIDEO_COLOR_RANGE_0_255 ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
  f->colorspace = to_av_colorspace(c.matrix);
  // Nanosecond time base: GStreamer's.
  f->pts = GST_CLOCK_TIME_IS_VALID(pts) ? static_cast<int64_t>(pts) : AV_NOPTS_VALUE;
  return Frame(std::move(f), AVRational{1, 1000000000});
}

void copy_into(const Frame& src, GstVideoFrame* dst) {
  const AVFrame* s = src.av();
  if (s->width != GST_VIDEO_FRAME_WIDTH(dst) || s->height != GST_VIDEO_FRAME_HEIGHT(dst) ||
      s->format != to_av_format(GST_VIDEO_FRAME_FORMAT(dst))) {
    throw Error(ErrorKind::kProcessing, "output frame does not match the negotiated caps");
  }
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(s->format));
  int row_bytes[4];
  av_image_fill_linesizes(row_bytes, static_cast<AVPixelFormat>(s->format), s->width);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(dst) && p < 4; ++p) {
    const int h = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(s->height, d->log2_chroma_h) : s->height;
    auto* out = static_cast<uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(dst, p));
    const int out_stride = GST_VIDEO_FRAME_PLANE_STRIDE(dst, p);
    for (int y = 0; y < h; ++y) {
      std::memcpy(out + static_cast<std::ptrdiff_t>(y) * out_stride,
                  s->data[p] + static_cast<std::ptrdiff_t>(y) * s->linesize[p], static_cast<std::size_t>(row_bytes[p]));
    }
  }
}

}  // namespace framegen::gst
