#include "feeds/sim/record.h"

#include "schemas/append_printf.h"

namespace oddsbus::feeds::sim {

void append_record(std::string& out, uint32_t line, uint64_t seq, const SimFact& fact, bool image,
                   bool duplicate, uint64_t ns) {
  using ull = unsigned long long;
  append_printf(out, R"({"line":%u,"seq":%llu,"kind":"%s")", line, static_cast<ull>(seq),
                std::string(to_string(fact.kind)).c_str());
  const std::string status(to_string(fact.status));
  switch (fact.kind) {
    case SimFact::Kind::kMarket:
      append_printf(out, R"(,"market":%llu,"event":%llu,"status":"%s")",
                    static_cast<ull>(fact.market), static_cast<ull>(fact.event), status.c_str());
      break;
    case SimFact::Kind::kPrice:
      append_printf(out, R"(,"market":%llu,"selection":%llu,"price_e4":%u)",
                    static_cast<ull>(fact.market), static_cast<ull>(fact.selection), fact.price_e4);
      break;
    case SimFact::Kind::kStatus:
      append_printf(out, R"(,"market":%llu,"status":"%s")", static_cast<ull>(fact.market),
                    status.c_str());
      break;
    case SimFact::Kind::kSettle:
      append_printf(out, R"(,"market":%llu,"status":"settled","winners":[%llu])",
                    static_cast<ull>(fact.market), static_cast<ull>(fact.winner));
      break;
    case SimFact::Kind::kHeartbeat:
      break;
  }
  if (image) out += R"(,"image":true)";
  if (duplicate) out += R"(,"dup":true)";
  append_printf(out,
                R"(,"ns":%llu})"
                "\n",
                static_cast<ull>(ns));
}

void append_corrupt_record(std::string& out, uint32_t line, uint64_t seq, size_t bytes,
                           uint64_t ns) {
  append_printf(out,
                R"({"line":%u,"seq":%llu,"kind":"corrupt","bytes":%zu,"ns":%llu})"
                "\n",
                line, static_cast<unsigned long long>(seq), bytes,
                static_cast<unsigned long long>(ns));
}

}  // namespace oddsbus::feeds::sim
