// A frame as one JSON object (odds-replay events, debugging): its header fields, the payload type
// as "type", and the payload's fields. Appends to `out`; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "schemas/frame_generated.h"

namespace oddsbus {

// A frame of a desk request also has "desk": {"identity", "client", "request_id"} (who asked), and
// a frame that changed a desk override "override": "take" | "release" | "expire" |
// "settlement_end" (a take with "override_expires_ns", wall clock ns, 0: until released).
void append_frame_json(std::string& out, const fb::Frame& frame);

// Appends the desk keys above (nothing for a feed's frame).
void append_desk_json(std::string& out, const fb::Frame& frame);

std::string_view to_string(fb::OverrideChange change);

}  // namespace oddsbus
