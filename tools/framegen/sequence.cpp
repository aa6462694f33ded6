#include "sequence.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace framegen::cli {

bool remove_flat_folder_signal_safe(const char* path) noexcept {
  const int fd = ::open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  // getdents64 directly: opendir/readdir may allocate, which a signal handler must not.
  struct LinuxDirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[1];
  };
  alignas(8) char buf[8192];
  // Deleting while reading may make the listing skip names: read it again until a
  // pass deletes nothing.
  for (int pass = 0; pass < 16; ++pass) {
    if (::lseek(fd, 0, SEEK_SET) != 0) {
      break;
    }
    int deleted = 0;
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      for (long off = 0; off < n;) {
        const auto* d = reinterpret_cast<const LinuxDirent64*>(buf + off);
        const char* name = d->d_name;
        const bool dot = name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
        if (!dot && ::unlinkat(fd, name, 0) == 0) {
          ++deleted;
        }
        off += d->d_reclen;
      }
    }
    if (deleted == 0) {
      break;
    }
  }
  ::close(fd);
  return ::rmdir(path) == 0;
}

}  // namespace framegen::cli
