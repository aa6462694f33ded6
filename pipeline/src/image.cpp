#include "framegen/pipeline/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>
#include <utility>

#include "framegen/pipeline/av_ptr.h"
#include "framegen/pipeline/decoder.h"
#include "framegen/pipeline/error.h"
#include "framegen/pipeline/scaler.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

namespace framegen {

namespace {

double cubic(double x) {
  const double ax = std::fabs(x);
  const double ax2 = ax * ax;
  const double ax3 = ax2 * ax;
  if (ax <= 1.0) {
    return 1.5 * ax3 - 2.5 * ax2 + 1.0;
  }
  if (ax <= 2.0) {
    return -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0;
  }
  return 0.0;
}

// MATLAB's contributions(): for each output index, taps (input index, weight).
struct Taps {
  int count = 0;               // taps per output sample
  std::vector<int> index;      // out_len * count, 0-based
  std::vector<double> weight;  // out_len * count
};

Taps contributions(int in_len, int out_len, double scale) {
  const bool shrink = scale < 1.0;
  const double kw = shrink ? 4.0 / scale : 4.0;
  const int p = static_cast<int>(std::ceil(kw)) + 2;
  std::vector<double> w(static_cast<std::size_t>(out_len) * p);
  std::vector<long> ind(static_cast<std::size_t>(out_len) * p);
  for (int x = 0; x < out_len; ++x) {
    const double u = (x + 1) / scale + 0.5 * (1.0 - 1.0 / scale);
    const double left = std::floor(u - kw / 2.0);
    double sum = 0;
    for (int k = 0; k < p; ++k) {
      const double i = left + k;  // 1-based
      const double d = u - i;
      const double v = shrink ? scale * cubic(d * scale) : cubic(d);
      w[static_cast<std::size_t>(x) * p + k] = v;
      ind[static_cast<std::size_t>(x) * p + k] = static_cast<long>(i);
      sum += v;
    }
    for (int k = 0; k < p; ++k) {
      w[static_cast<std::size_t>(x) * p + k] /= sum;
    }
  }
  // Drop tap columns that are zero for every output sample (as MATLAB does).
  std::vector<int> keep;
  for (int k = 0; k < p; ++k) {
    bool any = false;
    for (int x = 0; x < out_len && !any; ++x) {
      any = w[static_cast<std::size_t>(x) * p + k] != 0.0;
    }
    if (any) {
      keep.push_back(k);
    }
  }
  Taps t;
  t.count = static_cast<int>(keep.size());
  t.index.resize(static_cast<std::size_t>(out_len) * t.count);
  t.weight.resize(static_cast<std::size_t>(out_len) * t.count);
  const long period = 2L * in_len;
  for (int x = 0; x < out_len; ++x) {
    for (int j = 0; j < t.count; ++j) {
      const int k = keep[j];
      long m = (ind[static_cast<std::size_t>(x) * p + k] - 1) % period;
      if (m < 0) {
        m += period;
      }
      const long idx = m < in_len ? m : period - 1 - m;  // half-sample mirror
      t.index[static_cast<std::size_t>(x) * t.count + j] = static_cast<int>(idx);
      t.weight[static_cast<std::size_t>(x) * t.count + j] = w[static_cast<std::size_t>(x) * p + k];
    }
  }
  return t;
}

uint8_t round_u8(double v) { return static_cast<uint8_t>(std::floor(std::clamp(v, 0.0, 255.0) + 0.5)); }

Image resize_rows(const Image& in, int out_h, double scale) {  // along dim 0
  const Taps t = contributions(in.height, out_h, scale);
  Image out(in.width, out_h, in.channels);
  const int rowlen = in.width * in.channels;
  std::vector<double> acc(static_cast<std::size_t>(rowlen));
  for (int y = 0; y < out_h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int j = 0; j < t.count; ++j) {
      const double w = t.weight[static_cast<std::size_t>(y) * t.count + j];
      const uint8_t* src = in.row(t.index[static_cast<std::size_t>(y) * t.count + j]);
      for (int i = 0; i < rowlen; ++i) {
        acc[i] += src[i] * w;
      }
    }
    uint8_t* dst = out.row(y);
    for (int i = 0; i < rowlen; ++i) {
      dst[i] = round_u8(acc[i]);
    }
  }
  return out;
}

Image resize_cols(const Image& in, int out_w, double scale) {  // along dim 1
  const Taps t = contributions(in.width, out_w, scale);
  Image out(out_w, in.height, in.channels);
  const int c = in.channels;
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* src = in.row(y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out_w; ++x) {
      for (int ch = 0; ch < c; ++ch) {
        double acc = 0;
        for (int j = 0; j < t.count; ++j) {
          acc += src[t.index[static_cast<std::size_t>(x) * t.count + j] * c + ch] *
                 t.weight[static_cast<std::size_t>(x) * t.count + j];
        }
        dst[x * c + ch] = round_u8(acc);
      }
    }
  }
  return out;
}

}  // namespace

Image imresize_matlab(const Image& in, int out_width, int out_height) {
  const double sy = static_cast<double>(out_height) / in.height;
  const double sx = static_cast<double>(out_width) / in.width;
  if (sy <= sx) {
    return resize_cols(resize_rows(in, out_height, sy), out_width, sx);
  }
  return resize_rows(resize_cols(in, out_width, sx), out_height, sy);
}

Image downscale_matlab(const Image& hr, int scale) {
  // MATLAB: output size ceil(H / s); with a modcropped input this is exact.
  const int w = (hr.width + scale - 1) / scale;
  const int h = (hr.height + scale - 1) / scale;
  const double s = 1.0 / scale;
  // imresize(img, scale) uses the scale itself, not out/in.
  const Image tmp = resize_rows(hr, h, s);
  return resize_cols(tmp, w, s);
}

Image modcrop(const Image& in, int scale) {
  return crop(in, 0, 0, in.width - in.width % scale, in.height - in.height % scale);
}

Image crop(const Image& in, int x, int y, int w, int h) {
  Image out(w, h, in.channels);
  for (int r = 0; r < h; ++r) {
    std::memcpy(out.row(r), in.row(y + r) + static_cast<std::size_t>(x) * in.channels,
                static_cast<std::size_t>(w) * in.channels);
  }
  return out;
}

std::vector<double> luma_bt601(const Image& rgb) {
  std::vector<double> y(static_cast<std::size_t>(rgb.width) * rgb.height);
  for (std::size_t i = 0; i < y.size(); ++i) {
    const uint8_t* p = rgb.data.data() + i * rgb.channels;
    y[i] = rgb.channels >= 3 ? 16.0 + (65.481 * p[0] + 128.553 * p[1] + 24.966 * p[2]) / 255.0
                             : 16.0 + (65.481 + 128.553 + 24.966) * p[0] / 255.0;
  }
  return y;
}

namespace {

std::vector<double> shaved(const std::vector<double>& y, int w, int h, int shave, int* ow, int* oh) {
  *ow = w - 2 * shave;
  *oh = h - 2 * shave;
  std::vector<double> out(static_cast<std::size_t>(*ow) * *oh);
  for (int r = 0; r < *oh; ++r) {
    for (int c = 0; c < *ow; ++c) {
      out[static_cast<std::size_t>(r) * *ow + c] = y[static_cast<std::size_t>(r + shave) * w + c + shave];
    }
  }
  return out;
}

void check_same(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height) {
    throw Error(ErrorKind::kProcessing, "metric on images of different sizes");
  }
}

}  // namespace

double psnr_y(const Image& a, const Image& b, int shave) {
  check_same(a, b);
  int w = 0;
  int h = 0;
  const auto ya = shaved(luma_bt601(a), a.width, a.height, shave, &w, &h);
  const auto yb = shaved(luma_bt601(b), b.width, b.height, shave, &w, &h);
  double mse = 0;
  for (std::size_t i = 0; i < ya.size(); ++i) {
    const double d = ya[i] - yb[i];
    mse += d * d;
  }
  mse /= static_cast<double>(ya.size());
  return mse == 0 ? INFINITY : 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssim_y(const Image& a, const Image& b, int shave) {
  check_same(a, b);
  int w = 0;
  int h = 0;
  const auto x = shaved(luma_bt601(a), a.width, a.height, shave, &w, &h);
  const auto y = shaved(luma_bt601(b), b.width, b.height, shave, &w, &h);
  // cv2.getGaussianKernel(11, 1.5): normalized exp(-(i-5)^2 / (2 sigma^2)).
  double g[11];
  double gs = 0;
  for (int i = 0; i < 11; ++i) {
    g[i] = std::exp(-((i - 5) * (i - 5)) / (2 * 1.5 * 1.5));
    gs += g[i];
  }
  for (double& v : g) {
    v /= gs;
  }
  const int vw = w - 10;
  const int vh = h - 10;
  if (vw <= 0 || vh <= 0) {
    throw Error(ErrorKind::kProcessing, "image too small for SSIM");
  }
  // Separable filtering of x, y, x^2, y^2, xy over valid positions.
  auto filter = [&](auto value) {
    std::vector<double> tmp(static_cast<std::size_t>(w) * vh);
    for (int r = 0; r < vh; ++r) {
      for (int c = 0; c < w; ++c) {
        double acc = 0;
        for (int k = 0; k < 11; ++k) {
          acc += g[k] * value(static_cast<std::size_t>(r + k) * w + c);
        }
        tmp[static_cast<std::size_t>(r) * w + c] = acc;
      }
    }
    std::vector<double> out(static_cast<std::size_t>(vw) * vh);
    for (int r = 0; r < vh; ++r) {
      for (int c = 0; c < vw; ++c) {
        double acc = 0;
        for (int k = 0; k < 11; ++k) {
          acc += g[k] * tmp[static_cast<std::size_t>(r) * w + c + k];
        }
        out[static_cast<std::size_t>(r) * vw + c] = acc;
      }
    }
    return out;
  };
  const auto mu1 = filter([&](std::size_t i) { return x[i]; });
  const auto mu2 = filter([&](std::size_t i) { return y[i]; });
  const auto xx = filter([&](std::size_t i) { return x[i] * x[i]; });
  const auto yy = filter([&](std::size_t i) { return y[i] * y[i]; });
  const auto xy = filter([&](std::size_t i) { return x[i] * y[i]; });
  const double c1 = (0.01 * 255) * (0.01 * 255);
  const double c2 = (0.03 * 255) * (0.03 * 255);
  double sum = 0;
  for (std::size_t i = 0; i < mu1.size(); ++i) {
    const double m1 = mu1[i];
    const double m2 = mu2[i];
    const double s1 = xx[i] - m1 * m1;
    const double s2 = yy[i] - m2 * m2;
    const double s12 = xy[i] - m1 * m2;
    sum += ((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1 * m1 + m2 * m2 + c1) * (s1 + s2 + c2));
  }
  return sum / static_cast<double>(mu1.size());
}

double psnr_rgb(const Image& a, const Image& b) {
  check_same(a, b);
  double mse = 0;
  for (std::size_t i = 0; i < a.data.size(); ++i) {
    const double d = static_cast<double>(a.data[i]) - b.data[i];
    mse += d * d;
  }
  mse /= static_cast<double>(a.data.size());
  return mse == 0 ? 100.0 : std::min(100.0, 10.0 * std::log10(255.0 * 255.0 / mse));
}

double mean_gradient(const Image& rgb) {
  const auto y = luma_bt601(rgb);
  double sum = 0;
  for (int r = 0; r + 1 < rgb.height; ++r) {
    for (int c = 0; c + 1 < rgb.width; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * rgb.width + c;
      sum += std::fabs(y[i + 1] - y[i]) + std::fabs(y[i + rgb.width] - y[i]);
    }
  }
  return sum / (static_cast<double>(rgb.width - 1) * (rgb.height - 1));
}

namespace {

// swscale's SIMD paths read and write past the end of a tightly packed row (the
// heap was corrupted decoding 568-pixel-wide H.264), so it converts into a padded
// frame and the rows are copied out.
Image frame_to_rgb(const AVFrame* f, SwsContext** ctx, int flags) {
  // JPEG's yuvj formats as their plain twins (the range is set below): swscale
  // warned "deprecated pixel format used" for every photograph.
  const auto format = static_cast<AVPixelFormat>(f->format);
  *ctx = sws_getCachedContext(*ctx, f->width, f->height, without_j(format), f->width, f->height, AV_PIX_FMT_RGB24,
                              flags, nullptr, nullptr, nullptr);
  if (*ctx == nullptr) {
    throw Error(ErrorKind::kInput, "cannot convert frames to RGB");
  }
  const bool full = f->color_range == AVCOL_RANGE_JPEG || without_j(format) != format;
  const int cs = f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_ITU601;
  sws_setColorspaceDetails(*ctx, sws_getCoefficients(cs), full ? 1 : 0, sws_getCoefficients(SWS_CS_ITU601), 1, 0,
                           1 << 16, 1 << 16);
  Frame rgb = padded_rgb24(f->width, f->height);
  sws_scale(*ctx, f->data, f->linesize, 0, f->height, rgb.av()->data, rgb.av()->linesize);
  return image_from_rgb24(rgb);
}

}  // namespace

std::vector<Image> load_rgb_frames(const std::string& path, int max_frames, int every, int sws_flags) {
  DecoderOptions opts;
  opts.threads = 1;
  Decoder dec(path, opts);
  std::vector<Image> frames;
  SwsContext* ctx = nullptr;
  int index = 0;
  try {
    while (max_frames < 0 || static_cast<int>(frames.size()) < max_frames) {
      Frame f = dec.next();
      if (!f) {
        break;
      }
      if (index++ % every != 0) {
        continue;
      }
      frames.push_back(frame_to_rgb(f.av(), &ctx, sws_flags));
    }
  } catch (...) {
    sws_freeContext(ctx);
    throw;
  }
  sws_freeContext(ctx);
  if (frames.empty()) {
    throw Error(ErrorKind::kInput, "'" + path + "': no frame could be decoded");
  }
  return frames;
}

std::vector<std::pair<std::string, Image>> load_rgb_source(const std::string& path, int max_frames) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, Image>> out;
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
      if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tif" || ext == ".tiff") {
        files.push_back(e.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      throw Error(ErrorKind::kInput, "'" + path + "': no images in this folder");
    }
    if (max_frames >= 0 && files.size() > static_cast<std::size_t>(max_frames)) {
      files.resize(static_cast<std::size_t>(max_frames));  // the first N by name
    }
    for (const auto& f : files) {
      out.emplace_back(fs::path(f).filename().string(), load_rgb_frames(f, 1).front());
    }
    return out;
  }
  auto frames = load_rgb_frames(path, max_frames);
  const std::string base = fs::path(path).filename().string();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "#%05zu", i);
    out.emplace_back(base + name, std::move(frames[i]));
  }
  return out;
}

Frame padded_rgb24(int width, int height) {
  AvFramePtr rgb = make_av_frame();
  rgb->width = width;
  rgb->height = height;
  rgb->format = AV_PIX_FMT_RGB24;
  if (av_frame_get_buffer(rgb.get(), 0) < 0) {
    throw std::bad_alloc();
  }
  return {std::move(rgb), AVRational{1, 1}};
}

Image image_from_rgb24(const Frame& rgb) {
  if (rgb.format() != AV_PIX_FMT_RGB24) {
    throw Error(ErrorKind::kProcessing, "image_from_rgb24 needs an rgb24 frame");
  }
  Image img(rgb.width(), rgb.height(), 3);
  for (int y = 0; y < img.height; ++y) {
    std::memcpy(img.row(y), rgb.av()->data[0] + static_cast<std::ptrdiff_t>(y) * rgb.av()->linesize[0],
                static_cast<std::size_t>(img.width) * 3);
  }
  return img;
}

void copy_image_into(const Image& img, Frame& rgb) {
  if (rgb.format() != AV_PIX_FMT_RGB24 || rgb.width() != img.width || rgb.height() != img.height) {
    throw Error(ErrorKind::kProcessing, "copy_image_into needs an rgb24 frame of the image's size");
  }
  for (int y = 0; y < img.height; ++y) {
    std::memcpy(rgb.av()->data[0] + static_cast<std::ptrdiff_t>(y) * rgb.av()->linesize[0], img.row(y),
                static_cast<std::size_t>(img.width) * 3);
  }
}

void write_png(const std::string& path, const Image& rgb) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
  AvCodecContextPtr ctx(avcodec_alloc_context3(codec));
  ctx->width = rgb.width;
  ctx->height = rgb.height;
  ctx->pix_fmt = rgb.channels == 3 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_GRAY8;
  ctx->time_base = AVRational{1, 25};
  av_check(avcodec_open2(ctx.get(), codec, nullptr), ErrorKind::kOutput, "png encoder");
  AvFramePtr f = make_av_frame();
  f->width = rgb.width;
  f->height = rgb.height;
  f->format = ctx->pix_fmt;
  f->data[0] = const_cast<uint8_t*>(rgb.data.data());
  f->linesize[0] = rgb.width * rgb.channels;
  av_check(avcodec_send_frame(ctx.get(), f.get()), ErrorKind::kOutput, "png encode");
  av_check(avcodec_send_frame(ctx.get(), nullptr), ErrorKind::kOutput, "png encode");
  AvPacketPtr pkt = make_av_packet();
  av_check(avcodec_receive_packet(ctx.get(), pkt.get()), ErrorKind::kOutput, "png encode");
  // Written beside the target and renamed: a failed write (a full disk) or an
  // interrupted run leaves no truncated PNG under the final name.
  const std::string part = path + ".part";
  FILE* fp = std::fopen(part.c_str(), "wb");
  if (fp == nullptr) {
    throw Error(ErrorKind::kOutput, "cannot write '" + path + "': " + std::strerror(errno));
  }
  const std::size_t n = std::fwrite(pkt->data, 1, static_cast<std::size_t>(pkt->size), fp);
  const int closed = std::fclose(fp);
  if (n != static_cast<std::size_t>(pkt->size) || closed != 0 || std::rename(part.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(part.c_str());
    throw Error(ErrorKind::kOutput, "cannot write '" + path + "': " + std::strerror(err));
  }
}

}  // namespace framegen

static_assert(framegen::kSrScorerSwsFlags == (SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT));
static_assert(framegen::kPredScorerSwsFlags == SWS_BICUBIC);
