// Start-up: rebuilds a sequencer from its journal, so a restarted node continues at last seq + 1
// with its stored epoch and the market state its frames define.
#pragma once

#include <expected>
#include <memory>
#include <string>

#include "engine/journal.h"
#include "engine/sequencer.h"

namespace oddsbus::engine {

// Replays the journaled frames (with all scan checks) into a new Sequencer, from the nearest usable
// journal snapshot (engine/journal_snapshot.h) or else from seq 1. Fails, naming the
// seq, if the journal is damaged: a node never continues a journal it cannot read whole.
std::expected<std::unique_ptr<Sequencer>, std::string> restore_sequencer(const Journal& journal);

}  // namespace oddsbus::engine
