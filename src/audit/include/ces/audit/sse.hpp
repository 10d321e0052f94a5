#pragma once
// Server-Sent Events framing of the replay stream, as a Casper node writes it: `data:` line(s), then
// `id:`, then a blank line; ApiVersion messages without an id; `:` keep-alive comments.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ces::audit {

// A payload holding line breaks (never seen from a node: payloads are compact JSON) is written as
// several data lines, which an SSE client joins with "\n"; CR and CRLF come back as LF.
void AppendSseEvent(std::string& out, std::string_view data, std::optional<std::uint32_t> id);
// data:{"ApiVersion":"<version>"} and a blank line.
void AppendSseApiVersion(std::string& out, std::string_view version);
void AppendSseKeepAlive(std::string& out);

}  // namespace ces::audit
