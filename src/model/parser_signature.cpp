// FinalitySignature (1.x, 2.x V1/V2).

#include "parser_internal.hpp"

namespace ces::model::detail {
namespace {

void SignatureFields(std::string_view key, od::value& val, FinalitySignatureRow& row, std::uint32_t& seen) {
  if (key == "block_hash") {
    row.block_hash = Hash(val, "FinalitySignature.block_hash");
    seen |= 1;
  } else if (key == "era_id") {
    row.era_id = Int64(val, "FinalitySignature.era_id");
    seen |= 2;
  } else if (key == "signature") {
    row.signature = Signature(val, "FinalitySignature.signature");
    seen |= 4;
  } else if (key == "public_key") {
    row.public_key = PublicKey(val, "FinalitySignature.public_key");
    seen |= 8;
  } else if (key == "block_height") {
    row.block_height = Int64(val, "FinalitySignature.block_height");
  } else if (key == "chain_name_hash") {
    row.chain_name_hash = Hash(val, "FinalitySignature.chain_name_hash");
  }
}

}  // namespace

void FinalitySignature(od::value& v, Rows& out) {
  FinalitySignatureRow row;
  std::uint32_t seen = 0;
  Fields(v, "FinalitySignature", [&](std::string_view key, od::value& val) {
    if (key == "V1" || key == "V2") {
      row.version = key == "V2" ? 2 : 1;
      Fields(val, "FinalitySignature", [&](std::string_view k, od::value& x) { SignatureFields(k, x, row, seen); });
    } else if (key.size() >= 2 && key[0] == 'V' && key[1] >= '0' && key[1] <= '9') {
      Fail("FinalitySignature", "unknown version " + std::string(key));
    } else {
      SignatureFields(key, val, row, seen);
    }
  });
  if (seen != 15) Fail("FinalitySignature", "missing block_hash/era_id/signature/public_key");
  out.finality_signatures.push_back(std::move(row));
}

}  // namespace ces::model::detail
