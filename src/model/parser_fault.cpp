// Fault (an equivocation).

#include "parser_internal.hpp"

namespace ces::model::detail {

void Fault(od::value& v, Rows& out) {
  FaultRow row;
  std::uint32_t seen = 0;
  Fields(v, "Fault", [&](std::string_view key, od::value& val) {
    if (key == "era_id") {
      row.era_id = Int64(val, "Fault.era_id");
      seen |= 1;
    } else if (key == "public_key") {
      row.public_key = PublicKey(val, "Fault.public_key");
      seen |= 2;
    } else if (key == "timestamp") {
      row.timestamp = Timestamp(val, "Fault.timestamp");
      seen |= 4;
    }
  });
  if (seen != 7) Fail("Fault", "missing era_id/public_key/timestamp");
  out.faults.push_back(std::move(row));
}

}  // namespace ces::model::detail
