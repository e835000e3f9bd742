// Helpers shared by the core's real-mount tests.
#pragma once

#include <string>

#include "fuse/server.h"

namespace fusekit {

// Stops `server` while another thread keeps stat(2)-ing `path` on its mount,
// and waits for the server's threads: it hangs if one never sees the end.
void StopWhileACallerStats(Server* server, const std::string& path);

}  // namespace fusekit
