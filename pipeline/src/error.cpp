#include "framegen/pipeline/error.h"

#include <new>

#include "framegen/pipeline/av_ptr.h"

extern "C" {
#include <libavutil/error.h>
}

namespace framegen {

std::string av_error_text(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(errnum, buf, sizeof(buf));
  return buf;
}

int av_check(int ret, ErrorKind kind, const std::string& what) {
  if (ret < 0) {
    throw Error(kind, what + ": " + av_error_text(ret));
  }
  return ret;
}

AvFramePtr make_av_frame() {
  AVFrame* f = av_frame_alloc();
  if (f == nullptr) {
    throw std::bad_alloc();
  }
  return AvFramePtr(f);
}

AvPacketPtr make_av_packet() {
  AVPacket* p = av_packet_alloc();
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return AvPacketPtr(p);
}

}  // namespace framegen
