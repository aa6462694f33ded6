// Removing an image sequence's temporary folder from a signal handler.
#pragma once

namespace framegen::cli {

// Deletes the files in `path` (one level, no subfolders) and then the folder,
// with system calls only: safe in a signal handler. Returns false if the folder
// could not be deleted.
bool remove_flat_folder_signal_safe(const char* path) noexcept;

}  // namespace framegen::cli
