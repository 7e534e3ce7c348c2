// A frame as one JSON object (odds-replay events, debugging): its header fields, the payload type
// as "type", and the payload's fields. Appends to `out`; safe from any thread.
#pragma once

#include <string>

#include "schemas/frame_generated.h"

namespace oddsbus {

void append_frame_json(std::string& out, const fb::Frame& frame);

}  // namespace oddsbus
