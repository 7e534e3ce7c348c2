#include "feeds/adapter.h"

#include "feeds/betfair/stream_adapter.h"
#include "feeds/oddsjson/adapter.h"
#include "feeds/uof/uof_adapter.h"

namespace oddsbus::feeds {

std::expected<std::unique_ptr<Adapter>, std::string> make_adapter(std::string_view format,
                                                                  const std::string& feed_name,
                                                                  const Mapping* mapping) {
  if (format == "oddsjson") return std::make_unique<oddsjson::OddsJsonAdapter>(feed_name);
  if (format != "betfair-stream" && format != "uof-xml") {
    return std::unexpected("unknown feed format '" + std::string(format) +
                           "' (known: oddsjson, betfair-stream, uof-xml)");
  }
  if (mapping == nullptr) {
    return std::unexpected("feed " + feed_name + " (" + std::string(format) +
                           ") needs a mapping file (--mapping FILE) to map provider ids");
  }
  if (format == "betfair-stream") {
    return std::make_unique<betfair::StreamAdapter>(*mapping, feed_name);
  }
  return std::make_unique<uof::UofAdapter>(*mapping, feed_name);
}

}  // namespace oddsbus::feeds
