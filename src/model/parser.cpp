#include "ces/model/parser.hpp"

#include <simdjson.h>

#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "ces/model/values.hpp"

namespace ces::model {
namespace {

namespace od = simdjson::ondemand;

// Thrown inside this file only; Parse() turns it into a rejection.
struct Reject {
  std::string reason;
};

[[noreturn]] void Fail(std::string reason) { throw Reject{std::move(reason)}; }

[[noreturn]] void Fail(std::string_view path, std::string_view what, simdjson::error_code error = simdjson::SUCCESS) {
  std::string reason(path);
  reason += ": ";
  reason += what;
  if (error != simdjson::SUCCESS) {
    reason += " (";
    reason += simdjson::error_message(error);
    reason += ")";
  }
  Fail(std::move(reason));
}

// ---- typed accessors (every failure names the field) ----

bool IsNull(od::value& v) {
  bool null = false;
  if (v.is_null().get(null) != simdjson::SUCCESS) return false;
  return null;
}

std::string_view Str(od::value& v, std::string_view path) {
  std::string_view s;
  if (auto e = v.get_string().get(s)) Fail(path, "expected a string", e);
  return s;
}

std::string Text(od::value& v, std::string_view path) { return std::string(Str(v, path)); }

OptText OptionalText(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return Text(v, path);
}

std::string Hash(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsHash(s)) Fail(path, "expected a 64-digit hex hash");
  return Lower(s);
}

OptText OptionalHash(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return Hash(v, path);
}

std::string PublicKey(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsPublicKey(s)) Fail(path, "expected a public key (00, 01+64 or 02+66 hex digits)");
  return Lower(s);
}

OptText OptionalPublicKey(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return PublicKey(v, path);
}

std::string Signature(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsSignature(s)) Fail(path, "expected a signature (01/02 + 128 hex digits)");
  return Lower(s);
}

std::string URef(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsURef(s)) Fail(path, "expected a URef (uref-<64 hex>-<access>)");
  return Lower(s);
}

std::string AccountHash(od::value& v, std::string_view path) {
  auto hex = AccountHashHex(Str(v, path));
  if (!hex) Fail(path, "expected an account hash (account-hash-<64 hex>)");
  return *hex;
}

OptText OptionalAccountHash(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return AccountHash(v, path);
}

std::string Key(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsKey(s)) Fail(path, "expected a Key string");
  return Lower(s);
}

std::string Timestamp(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsTimestamp(s)) Fail(path, "expected an RFC 3339 UTC timestamp");
  return std::string(s);
}

std::int64_t Ttl(od::value& v, std::string_view path) {
  auto ms = ParseTtlMillis(Str(v, path));
  if (!ms) Fail(path, "expected a duration such as \"30m\"");
  return *ms;
}

// U512/U256/U128 as a decimal string.
std::string Motes(od::value& v, std::string_view path) {
  std::string_view s = Str(v, path);
  if (!IsDecimal(s)) Fail(path, "expected a decimal string");
  return std::string(s);
}

std::uint64_t U64(od::value& v, std::string_view path) {
  std::uint64_t x = 0;
  if (auto e = v.get_uint64().get(x)) Fail(path, "expected an unsigned integer", e);
  return x;
}

std::int64_t Int64(od::value& v, std::string_view path) {
  std::uint64_t x = U64(v, path);
  if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    Fail(path, "value exceeds 2^63-1, which the store does not hold");
  }
  return static_cast<std::int64_t>(x);
}

// A u64 that may be a bare integer or a decimal string, as decimal text (numeric columns).
std::string U64Text(od::value& v, std::string_view path) {
  od::json_type type;
  if (auto e = v.type().get(type)) Fail(path, "unreadable value", e);
  if (type == od::json_type::string) return Motes(v, path);
  return std::to_string(U64(v, path));
}

OptText OptionalU64Text(od::value& v, std::string_view path) {
  if (IsNull(v)) return std::nullopt;
  return U64Text(v, path);
}

bool Bool(od::value& v, std::string_view path) {
  bool b = false;
  if (auto e = v.get_bool().get(b)) Fail(path, "expected true or false", e);
  return b;
}

template <class F>
void Fields(od::value& v, std::string_view path, F&& f) {
  od::object object;
  if (auto e = v.get_object().get(object)) Fail(path, "expected an object", e);
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) Fail(path, "malformed object", e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) Fail(path, "malformed key", e);
    f(key, field.value());
  }
}

template <class F>
void Elements(od::value& v, std::string_view path, F&& f) {
  od::array array;
  if (auto e = v.get_array().get(array)) Fail(path, "expected an array", e);
  std::size_t index = 0;
  for (auto element_result : array) {
    od::value element;
    if (auto e = std::move(element_result).get(element)) Fail(path, "malformed array", e);
    f(element, index++);
  }
}

// {"Variant": value} objects (Rust enums): calls f(variant, value) for the single key.
template <class F>
void Variant(od::value& v, std::string_view path, F&& f) {
  int count = 0;
  Fields(v, path, [&](std::string_view key, od::value& inner) {
    if (++count > 1) Fail(path, "expected an object with one variant key");
    f(key, inner);
  });
  if (count == 0) Fail(path, "empty variant object");
}

std::size_t CountElements(od::value& v, std::string_view path) {
  std::size_t n = 0;
  Elements(v, path, [&](od::value&, std::size_t) { ++n; });
  return n;
}

// ---- shared pieces ----

struct TxHash {
  std::string hash;
  std::string kind;  // deploy | version1
};

// {"Deploy": hash} | {"Version1": hash}
TxHash TransactionHash(od::value& v, std::string_view path) {
  TxHash out;
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (variant == "Deploy") {
      out.kind = "deploy";
    } else if (variant == "Version1") {
      out.kind = "version1";
    } else {
      Fail(path, "unknown transaction hash variant " + std::string(variant));
    }
    out.hash = Hash(inner, path);
  });
  return out;
}

// {"PublicKey": pk} | {"AccountHash": "account-hash-…"}
void InitiatorAddr(od::value& v, std::string_view path, OptText& public_key, OptText& account_hash) {
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (variant == "PublicKey") {
      public_key = PublicKey(inner, path);
    } else if (variant == "AccountHash") {
      account_hash = AccountHash(inner, path);
    } else {
      Fail(path, "unknown initiator variant " + std::string(variant));
    }
  });
}

// RuntimeArgs: [[name, CLValue], …] -> the "parsed" decimal string of `wanted`, if any.
OptText FindDecimalArg(od::value& args, std::string_view wanted, std::string_view path) {
  OptText found;
  Elements(args, path, [&](od::value& pair, std::size_t) {
    std::string name;
    Elements(pair, path, [&](od::value& item, std::size_t i) {
      if (i == 0) {
        name = Text(item, path);
      } else if (i == 1 && name == wanted && !found) {
        od::object clvalue;
        if (item.get_object().get(clvalue) != simdjson::SUCCESS) return;
        for (auto field_result : clvalue) {
          od::field field;
          if (std::move(field_result).get(field) != simdjson::SUCCESS) Fail(path, "malformed CLValue");
          std::string_view key;
          if (field.unescaped_key().get(key) != simdjson::SUCCESS) Fail(path, "malformed CLValue key");
          if (key != "parsed") continue;
          std::string_view text;
          if (field.value().get_string().get(text) == simdjson::SUCCESS && IsDecimal(text)) found = std::string(text);
        }
      }
    });
  });
  return found;
}

// ---- effects: transfers, bids, withdrawals ----

// Rows produced by one execution result before the transaction's identity is known.
struct EffectRows {
  std::vector<TransferRow> transfers;
  std::vector<BidRow> bids;
  std::vector<WithdrawalRow> withdrawals;
};

void DelegatorFields(od::value& v, std::string_view path, BidRow& row) {
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "delegator_public_key") {
      row.delegator_public_key = PublicKey(val, path);
    } else if (key == "delegator_kind") {
      Variant(val, path, [&](std::string_view variant, od::value& inner) {
        if (variant == "PublicKey") {
          row.delegator_public_key = PublicKey(inner, path);
        } else if (variant == "Purse") {
          std::string_view purse = Str(inner, path);
          row.delegator_purse = IsHash(purse) ? Lower(purse) : URef(inner, path);
        } else {
          Fail(path, "unknown delegator kind " + std::string(variant));
        }
      });
    } else if (key == "validator_public_key") {
      row.validator_public_key = PublicKey(val, path);
    } else if (key == "staked_amount") {
      row.staked_amount = Motes(val, path);
    } else if (key == "bonding_purse") {
      row.bonding_purse = URef(val, path);
    }
  });
  if (!row.delegator_public_key && !row.delegator_purse) Fail(path, "delegator without delegator_public_key/kind");
}

// 1.x Bid / 2.x Unified: the validator row, then one row per delegator.
void UnifiedBid(od::value& v, std::string_view path, int effect_index, EffectRows& out) {
  BidRow validator;
  validator.kind = "validator";
  validator.effect_index = effect_index;
  std::vector<BidRow> delegators;
  auto add_delegator = [&](od::value& d) {
    BidRow row;
    row.kind = "delegator";
    row.effect_index = effect_index;
    DelegatorFields(d, path, row);
    delegators.push_back(std::move(row));
  };
  bool have_validator = false;
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "validator_public_key") {
      validator.validator_public_key = PublicKey(val, path);
      have_validator = true;
    } else if (key == "bonding_purse") {
      validator.bonding_purse = URef(val, path);
    } else if (key == "staked_amount") {
      validator.staked_amount = Motes(val, path);
    } else if (key == "delegation_rate") {
      validator.delegation_rate = Int64(val, path);
    } else if (key == "inactive") {
      validator.inactive = Bool(val, path);
    } else if (key == "delegators") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail(path, "unreadable delegators", e);
      if (type == od::json_type::object) {  // 1.x: {public key: Delegator}
        Fields(val, path, [&](std::string_view, od::value& d) { add_delegator(d); });
      } else {  // 2.x: [{"delegator_public_key", "delegator": Delegator}]
        Elements(val, path, [&](od::value& item, std::size_t) {
          Fields(item, path, [&](std::string_view k, od::value& d) {
            if (k == "delegator") add_delegator(d);
          });
        });
      }
    }
  });
  if (!have_validator) Fail(path, "bid without validator_public_key");
  validator.entry_index = 0;
  out.bids.push_back(std::move(validator));
  int entry = 1;
  for (auto& d : delegators) {
    if (!d.validator_public_key) d.validator_public_key = out.bids.back().validator_public_key;
    d.entry_index = entry++;
    out.bids.push_back(std::move(d));
  }
}

void BidKind(od::value& v, std::string_view path, int effect_index, EffectRows& out) {
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (variant == "Unified") {
      UnifiedBid(inner, path, effect_index, out);
      return;
    }
    if (variant == "Unbond") {
      std::string validator;
      OptText unbonder_pk, unbonder_purse;
      std::vector<WithdrawalRow> eras;
      Fields(inner, path, [&](std::string_view key, od::value& val) {
        if (key == "validator_public_key") {
          validator = PublicKey(val, path);
        } else if (key == "unbond_kind") {
          Variant(val, path, [&](std::string_view kind, od::value& k) {
            if (kind == "Validator" || kind == "DelegatedPublicKey") {
              unbonder_pk = PublicKey(k, path);
            } else if (kind == "DelegatedPurse") {
              std::string_view purse = Str(k, path);
              unbonder_purse = IsHash(purse) ? Lower(purse) : URef(k, path);
            } else {
              Fail(path, "unknown unbond kind " + std::string(kind));
            }
          });
        } else if (key == "eras") {
          Elements(val, path, [&](od::value& era, std::size_t) {
            WithdrawalRow row;
            row.kind = "unbond";
            Fields(era, path, [&](std::string_view k, od::value& x) {
              if (k == "bonding_purse") {
                row.bonding_purse = URef(x, path);
              } else if (k == "era_of_creation") {
                row.era_of_creation = Int64(x, path);
              } else if (k == "amount") {
                row.amount = Motes(x, path);
              } else if (k == "new_validator") {
                row.new_validator = OptionalPublicKey(x, path);
              }
            });
            eras.push_back(std::move(row));
          });
        }
      });
      int entry = 0;
      for (auto& row : eras) {
        row.effect_index = effect_index;
        row.entry_index = entry++;
        row.validator_public_key = validator;
        row.unbonder_public_key = unbonder_pk;
        row.unbonder_purse = unbonder_purse;
        out.withdrawals.push_back(std::move(row));
      }
      return;
    }
    BidRow row;
    row.effect_index = effect_index;
    if (variant == "Validator") {
      row.kind = "validator";
      Fields(inner, path, [&](std::string_view key, od::value& val) {
        if (key == "validator_public_key") {
          row.validator_public_key = PublicKey(val, path);
        } else if (key == "bonding_purse") {
          row.bonding_purse = URef(val, path);
        } else if (key == "staked_amount") {
          row.staked_amount = Motes(val, path);
        } else if (key == "delegation_rate") {
          row.delegation_rate = Int64(val, path);
        } else if (key == "inactive") {
          row.inactive = Bool(val, path);
        }
      });
    } else if (variant == "Delegator") {
      row.kind = "delegator";
      DelegatorFields(inner, path, row);
    } else if (variant == "Credit") {
      row.kind = "credit";
      Fields(inner, path, [&](std::string_view key, od::value& val) {
        if (key == "validator_public_key") {
          row.validator_public_key = PublicKey(val, path);
        } else if (key == "era_id") {
          row.era_id = Int64(val, path);
        } else if (key == "amount") {
          row.staked_amount = Motes(val, path);
        }
      });
    } else if (variant == "Bridge") {
      row.kind = "bridge";
      Fields(inner, path, [&](std::string_view key, od::value& val) {
        if (key == "old_validator_public_key") {
          row.validator_public_key = PublicKey(val, path);
        } else if (key == "new_validator_public_key") {
          row.new_validator_public_key = PublicKey(val, path);
        } else if (key == "era_id") {
          row.era_id = Int64(val, path);
        }
      });
    } else if (variant == "Reservation") {
      row.kind = "reservation";
      Fields(inner, path, [&](std::string_view key, od::value& val) {
        if (key == "validator_public_key") {
          row.validator_public_key = PublicKey(val, path);
        } else if (key == "delegation_rate") {
          row.delegation_rate = Int64(val, path);
        } else if (key == "delegator_kind") {
          Variant(val, path, [&](std::string_view kind, od::value& k) {
            if (kind == "PublicKey") {
              row.delegator_public_key = PublicKey(k, path);
            } else {
              std::string_view purse = Str(k, path);
              row.delegator_purse = IsHash(purse) ? Lower(purse) : URef(k, path);
            }
          });
        }
      });
    } else {
      return;  // a BidKind variant the model does not store
    }
    if (!row.validator_public_key) Fail(path, "bid without validator_public_key");
    out.bids.push_back(std::move(row));
  });
}

// [WithdrawPurse] / [UnbondingPurse]
void PurseList(od::value& v, std::string_view path, const char* kind, int effect_index, EffectRows& out) {
  int entry = 0;
  Elements(v, path, [&](od::value& purse, std::size_t) {
    WithdrawalRow row;
    row.kind = kind;
    row.effect_index = effect_index;
    row.entry_index = entry++;
    Fields(purse, path, [&](std::string_view key, od::value& val) {
      if (key == "bonding_purse") {
        row.bonding_purse = URef(val, path);
      } else if (key == "validator_public_key") {
        row.validator_public_key = PublicKey(val, path);
      } else if (key == "unbonder_public_key") {
        row.unbonder_public_key = PublicKey(val, path);
      } else if (key == "era_of_creation") {
        row.era_of_creation = Int64(val, path);
      } else if (key == "amount") {
        row.amount = Motes(val, path);
      } else if (key == "new_validator") {
        row.new_validator = OptionalPublicKey(val, path);
      }
    });
    if (!row.validator_public_key || !row.amount) Fail(path, "purse without validator_public_key/amount");
    out.withdrawals.push_back(std::move(row));
  });
}

// 1.x Transfer (WriteTransfer) or 2.x TransferV1/TransferV2 object.
TransferRow Transfer(od::value& v, std::string_view path, int version) {
  TransferRow row;
  row.version = version;
  bool source = false, target = false, amount = false;
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "from") {
      if (version == 2) {
        InitiatorAddr(val, path, row.from_public_key, row.from_account_hash);
      } else {
        row.from_account_hash = AccountHash(val, path);
      }
    } else if (key == "to") {
      row.to_account_hash = OptionalAccountHash(val, path);
    } else if (key == "source") {
      row.source_purse = URef(val, path);
      source = true;
    } else if (key == "target") {
      row.target_purse = URef(val, path);
      target = true;
    } else if (key == "amount") {
      row.amount = Motes(val, path);
      amount = true;
    } else if (key == "gas") {
      row.gas = Motes(val, path);
    } else if (key == "id") {
      row.transfer_id = OptionalU64Text(val, path);
    }
  });
  if (!source || !target || !amount) Fail(path, "transfer without source/target/amount");
  if (row.gas.empty()) row.gas = "0";
  return row;
}

// 1.x ExecutionEffect {"operations", "transforms": [{"key", "transform"}]}
void TransformsV1(od::value& v, std::string_view path, EffectRows& out) {
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key != "transforms") return;
    int transfer_index = 0;
    Elements(val, "transforms", [&](od::value& entry, std::size_t index) {
      const int effect_index = static_cast<int>(index);
      std::string entry_key;
      const std::size_t transfers_before = out.transfers.size(), bids_before = out.bids.size(),
                        withdrawals_before = out.withdrawals.size();
      Fields(entry, "transforms[]", [&](std::string_view k, od::value& x) {
        if (k == "key") {
          entry_key = Key(x, "transforms[].key");
          return;
        }
        if (k != "transform") return;
        od::json_type type;
        if (auto e = x.type().get(type)) Fail("transforms[].transform", "unreadable", e);
        if (type != od::json_type::object) return;  // "Identity", "WriteContractWasm", …
        Variant(x, "transforms[].transform", [&](std::string_view variant, od::value& inner) {
          if (variant == "WriteTransfer") {
            TransferRow row = Transfer(inner, "WriteTransfer", 1);
            row.transfer_index = transfer_index++;
            out.transfers.push_back(std::move(row));
          } else if (variant == "WriteBid") {
            UnifiedBid(inner, "WriteBid", effect_index, out);
          } else if (variant == "WriteWithdraw") {
            PurseList(inner, "WriteWithdraw", "withdraw", effect_index, out);
          } else if (variant == "WriteUnbonding") {
            PurseList(inner, "WriteUnbonding", "unbonding", effect_index, out);
          }
        });
      });
      for (std::size_t i = transfers_before; i < out.transfers.size(); ++i) {
        constexpr std::string_view kPrefix = "transfer-";
        if (entry_key.substr(0, kPrefix.size()) == kPrefix && IsHash(entry_key.substr(kPrefix.size()))) {
          out.transfers[i].transfer_addr = entry_key.substr(kPrefix.size());
        }
      }
      for (std::size_t i = bids_before; i < out.bids.size(); ++i) out.bids[i].bid_key = entry_key;
      for (std::size_t i = withdrawals_before; i < out.withdrawals.size(); ++i) {
        out.withdrawals[i].withdrawal_key = entry_key;
      }
      if ((out.bids.size() > bids_before || out.withdrawals.size() > withdrawals_before) && entry_key.empty()) {
        Fail("transforms[]", "bid/withdrawal transform without key");
      }
    });
  });
}

// 2.x effects: [{"key", "kind"}]
void EffectsV2(od::value& v, std::string_view path, EffectRows& out) {
  Elements(v, path, [&](od::value& entry, std::size_t index) {
    const int effect_index = static_cast<int>(index);
    std::string entry_key;
    const std::size_t bids_before = out.bids.size(), withdrawals_before = out.withdrawals.size();
    Fields(entry, "effects[]", [&](std::string_view k, od::value& x) {
      if (k == "key") {
        entry_key = Key(x, "effects[].key");
        return;
      }
      if (k != "kind") return;
      od::json_type type;
      if (auto e = x.type().get(type)) Fail("effects[].kind", "unreadable", e);
      if (type != od::json_type::object) return;  // "Identity"
      Variant(x, "effects[].kind", [&](std::string_view kind, od::value& inner) {
        if (kind != "Write") return;
        Variant(inner, "effects[].kind.Write", [&](std::string_view stored, od::value& value) {
          if (stored == "BidKind") {
            BidKind(value, "Write.BidKind", effect_index, out);
          } else if (stored == "Bid") {
            UnifiedBid(value, "Write.Bid", effect_index, out);
          } else if (stored == "Withdraw") {
            PurseList(value, "Write.Withdraw", "withdraw", effect_index, out);
          } else if (stored == "Unbonding") {
            PurseList(value, "Write.Unbonding", "unbonding", effect_index, out);
          }
        });
      });
    });
    for (std::size_t i = bids_before; i < out.bids.size(); ++i) out.bids[i].bid_key = entry_key;
    for (std::size_t i = withdrawals_before; i < out.withdrawals.size(); ++i) out.withdrawals[i].withdrawal_key = entry_key;
    if ((out.bids.size() > bids_before || out.withdrawals.size() > withdrawals_before) && entry_key.empty()) {
      Fail("effects[]", "bid/withdrawal effect without key");
    }
  });
}

// 1.x ExecutionResult {"Success"|"Failure": {effect, transfers, cost, error_message}}
void ExecutionResultV1(od::value& v, std::string_view path, TransactionRow& tx, EffectRows& effects) {
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (variant != "Success" && variant != "Failure") Fail(path, "unknown execution result " + std::string(variant));
    tx.execution_version = 1;
    tx.success = variant == "Success";
    bool have_cost = false;
    Fields(inner, path, [&](std::string_view key, od::value& val) {
      if (key == "cost") {
        tx.cost = Motes(val, "execution_result.cost");
        have_cost = true;
      } else if (key == "error_message") {
        tx.error_message = OptionalText(val, "execution_result.error_message");
      } else if (key == "transfers") {
        tx.transfer_count = static_cast<std::int64_t>(CountElements(val, "execution_result.transfers"));
      } else if (key == "effect") {
        TransformsV1(val, "execution_result.effect", effects);
      }
    });
    if (!have_cost) Fail(path, "execution result without cost");
    if (!*tx.success && !tx.error_message) tx.error_message = "";
  });
}

// 2.x ExecutionResultV2
void ExecutionResultV2(od::value& v, std::string_view path, TransactionRow& tx, EffectRows& effects) {
  tx.execution_version = 2;
  bool have_cost = false;
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "error_message") {
      tx.error_message = OptionalText(val, "execution_result.error_message");
    } else if (key == "current_price") {
      tx.current_price = Int64(val, "execution_result.current_price");
    } else if (key == "limit") {
      tx.gas_limit = Motes(val, "execution_result.limit");
    } else if (key == "consumed") {
      tx.consumed = Motes(val, "execution_result.consumed");
    } else if (key == "cost") {
      tx.cost = Motes(val, "execution_result.cost");
      have_cost = true;
    } else if (key == "refund") {
      tx.refund = Motes(val, "execution_result.refund");
    } else if (key == "size_estimate") {
      tx.size_estimate = Int64(val, "execution_result.size_estimate");
    } else if (key == "transfers") {
      int index = 0;
      Elements(val, "execution_result.transfers", [&](od::value& t, std::size_t) {
        Variant(t, "execution_result.transfers[]", [&](std::string_view variant, od::value& inner) {
          int version = variant == "Version2" ? 2 : variant == "Version1" ? 1 : 0;
          if (version == 0) Fail("execution_result.transfers[]", "unknown transfer version " + std::string(variant));
          TransferRow row = Transfer(inner, "execution_result.transfers[]", version);
          row.transfer_index = index++;
          effects.transfers.push_back(std::move(row));
        });
      });
      tx.transfer_count = index;
    } else if (key == "effects") {
      EffectsV2(val, "execution_result.effects", effects);
    }
  });
  if (!have_cost) Fail(path, "execution result without cost");
  tx.success = !tx.error_message.has_value();
}

void AttachEffects(const TransactionRow& tx, EffectRows& effects, Rows& out) {
  for (auto& t : effects.transfers) {
    t.transaction_hash = tx.transaction_hash;
    t.block_hash = tx.block_hash.value_or("");
    t.timestamp = tx.timestamp;
    out.transfers.push_back(std::move(t));
  }
  for (auto& b : effects.bids) {
    b.transaction_hash = tx.transaction_hash;
    b.block_hash = tx.block_hash;
    b.timestamp = tx.timestamp;
    out.bids.push_back(std::move(b));
  }
  for (auto& w : effects.withdrawals) {
    w.transaction_hash = tx.transaction_hash;
    w.block_hash = tx.block_hash;
    w.timestamp = tx.timestamp;
    out.withdrawals.push_back(std::move(w));
  }
}

// ---- blocks ----

struct EraEndData {
  bool present = false;
  bool v2 = false;  // flat EraEndV2 with motes rewards
  std::vector<std::string> equivocators;
  std::vector<std::string> inactive;
  std::vector<std::pair<std::string, std::string>> weights;         // next era
  std::vector<std::pair<std::string, std::string>> report_rewards;  // 1.x era_report
  std::vector<std::pair<std::string, std::vector<std::string>>> rewards;  // 2.x motes
  OptInt next_era_gas_price;
};

struct BlockData {
  int version = 1;
  std::string hash;
  bool have_header = false, have_body = false;
  BlockRow row;
  bool have_timestamp = false, have_era = false, have_height = false;
  EraEndData era_end;
  std::vector<BlockTransactionRow> transactions;
};

std::vector<std::string> PublicKeys(od::value& v, std::string_view path) {
  std::vector<std::string> out;
  Elements(v, path, [&](od::value& pk, std::size_t) { out.push_back(PublicKey(pk, path)); });
  return out;
}

void EraReport(od::value& v, EraEndData& era_end) {
  constexpr std::string_view kPath = "era_end.era_report";
  Fields(v, kPath, [&](std::string_view key, od::value& val) {
    if (key == "equivocators") {
      era_end.equivocators = PublicKeys(val, "era_report.equivocators");
    } else if (key == "inactive_validators") {
      era_end.inactive = PublicKeys(val, "era_report.inactive_validators");
    } else if (key == "rewards") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("era_report.rewards", "unreadable", e);
      if (type == od::json_type::object) {  // pre-1.4: {public key: amount}
        Fields(val, "era_report.rewards", [&](std::string_view pk, od::value& amount) {
          if (!IsPublicKey(pk)) Fail("era_report.rewards", "key is not a public key");
          era_end.report_rewards.emplace_back(Lower(pk), U64Text(amount, "era_report.rewards"));
        });
      } else {
        Elements(val, "era_report.rewards", [&](od::value& item, std::size_t) {
          std::string validator, amount;
          Fields(item, "era_report.rewards[]", [&](std::string_view k, od::value& x) {
            if (k == "validator") validator = PublicKey(x, "era_report.rewards[].validator");
            if (k == "amount") amount = U64Text(x, "era_report.rewards[].amount");
          });
          if (validator.empty() || amount.empty()) Fail("era_report.rewards[]", "missing validator/amount");
          era_end.report_rewards.emplace_back(std::move(validator), std::move(amount));
        });
      }
    }
  });
}

void EraEnd(od::value& v, EraEndData& era_end) {
  era_end.present = true;
  Fields(v, "era_end", [&](std::string_view key, od::value& val) {
    if (key == "era_report") {
      EraReport(val, era_end);
    } else if (key == "next_era_validator_weights") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("era_end.next_era_validator_weights", "unreadable", e);
      if (type == od::json_type::object) {  // pre-1.4: {public key: weight}
        Fields(val, "era_end.next_era_validator_weights", [&](std::string_view pk, od::value& weight) {
          if (!IsPublicKey(pk)) Fail("era_end.next_era_validator_weights", "key is not a public key");
          era_end.weights.emplace_back(Lower(pk), Motes(weight, "era_end.next_era_validator_weights"));
        });
        return;
      }
      Elements(val, "era_end.next_era_validator_weights", [&](od::value& item, std::size_t) {
        std::string validator, weight;
        Fields(item, "next_era_validator_weights[]", [&](std::string_view k, od::value& x) {
          if (k == "validator") validator = PublicKey(x, "next_era_validator_weights[].validator");
          if (k == "weight") weight = Motes(x, "next_era_validator_weights[].weight");
        });
        if (validator.empty() || weight.empty()) Fail("next_era_validator_weights[]", "missing validator/weight");
        era_end.weights.emplace_back(std::move(validator), std::move(weight));
      });
    } else if (key == "equivocators") {
      era_end.v2 = true;
      era_end.equivocators = PublicKeys(val, "era_end.equivocators");
    } else if (key == "inactive_validators") {
      era_end.v2 = true;
      era_end.inactive = PublicKeys(val, "era_end.inactive_validators");
    } else if (key == "rewards") {
      era_end.v2 = true;
      Fields(val, "era_end.rewards", [&](std::string_view pk, od::value& amounts) {
        if (!IsPublicKey(pk)) Fail("era_end.rewards", "key is not a public key");
        std::vector<std::string> list;
        od::json_type type;
        if (auto e = amounts.type().get(type)) Fail("era_end.rewards", "unreadable", e);
        if (type == od::json_type::array) {
          Elements(amounts, "era_end.rewards[]", [&](od::value& a, std::size_t) { list.push_back(Motes(a, "era_end.rewards[]")); });
        } else {
          list.push_back(U64Text(amounts, "era_end.rewards[]"));
        }
        era_end.rewards.emplace_back(Lower(pk), std::move(list));
      });
    } else if (key == "next_era_gas_price") {
      era_end.v2 = true;
      era_end.next_era_gas_price = Int64(val, "era_end.next_era_gas_price");
    }
  });
}

void BlockHeader(od::value& v, BlockData& b) {
  b.have_header = true;
  BlockRow& r = b.row;
  std::uint32_t seen = 0;
  Fields(v, "block.header", [&](std::string_view key, od::value& val) {
    if (key == "parent_hash") {
      r.parent_hash = Hash(val, "header.parent_hash");
      seen |= 1;
    } else if (key == "state_root_hash") {
      r.state_root_hash = Hash(val, "header.state_root_hash");
      seen |= 2;
    } else if (key == "body_hash") {
      r.body_hash = Hash(val, "header.body_hash");
      seen |= 4;
    } else if (key == "accumulated_seed") {
      r.accumulated_seed = Hash(val, "header.accumulated_seed");
      seen |= 8;
    } else if (key == "random_bit") {
      r.random_bit = Bool(val, "header.random_bit");
    } else if (key == "era_end") {
      if (!IsNull(val)) EraEnd(val, b.era_end);
    } else if (key == "timestamp") {
      r.timestamp = Timestamp(val, "header.timestamp");
      b.have_timestamp = true;
    } else if (key == "era_id") {
      r.era_id = Int64(val, "header.era_id");
      b.have_era = true;
    } else if (key == "height") {
      r.height = Int64(val, "header.height");
      b.have_height = true;
    } else if (key == "protocol_version") {
      r.protocol_version = Text(val, "header.protocol_version");
    } else if (key == "proposer") {
      r.proposer = PublicKey(val, "header.proposer");
    } else if (key == "current_gas_price") {
      r.current_gas_price = Int64(val, "header.current_gas_price");
    } else if (key == "last_switch_block_hash") {
      r.last_switch_block_hash = OptionalHash(val, "header.last_switch_block_hash");
    }
  });
  if (seen != 15) Fail("block.header", "missing parent_hash/state_root_hash/body_hash/accumulated_seed");
  if (!b.have_timestamp || !b.have_era || !b.have_height || r.protocol_version.empty()) {
    Fail("block.header", "missing timestamp/era_id/height/protocol_version");
  }
}

void BlockBody(od::value& v, BlockData& b) {
  b.have_body = true;
  std::vector<BlockTransactionRow> deploys, transfers;
  Fields(v, "block.body", [&](std::string_view key, od::value& val) {
    if (key == "proposer") {
      b.row.proposer = PublicKey(val, "body.proposer");
    } else if (key == "deploy_hashes" || key == "transfer_hashes") {
      const bool transfer = key == "transfer_hashes";
      Elements(val, "body.deploy_hashes", [&](od::value& h, std::size_t) {
        BlockTransactionRow row;
        row.transaction_hash = Hash(h, "body.deploy_hashes[]");
        row.transaction_kind = "deploy";
        row.native_transfer = transfer;
        (transfer ? transfers : deploys).push_back(std::move(row));
      });
    } else if (key == "transactions") {
      Fields(val, "body.transactions", [&](std::string_view lane_text, od::value& list) {
        std::int64_t lane = 0;
        if (lane_text.empty() || lane_text.size() > 3) Fail("body.transactions", "lane id is not a small integer");
        for (char c : lane_text) {
          if (c < '0' || c > '9') Fail("body.transactions", "lane id is not a small integer");
          lane = lane * 10 + (c - '0');
        }
        Elements(list, "body.transactions[]", [&](od::value& h, std::size_t) {
          TxHash tx = TransactionHash(h, "body.transactions[]");
          BlockTransactionRow row;
          row.transaction_hash = std::move(tx.hash);
          row.transaction_kind = std::move(tx.kind);
          row.lane = lane;
          row.native_transfer = lane == 0;
          deploys.push_back(std::move(row));
        });
      });
    }
  });
  for (auto& row : deploys) b.transactions.push_back(std::move(row));
  for (auto& row : transfers) b.transactions.push_back(std::move(row));
}

void BlockField(std::string_view key, od::value& val, BlockData& b) {
  if (key == "hash") {
    b.hash = Hash(val, "block.hash");
  } else if (key == "header") {
    BlockHeader(val, b);
  } else if (key == "body") {
    BlockBody(val, b);
  }
}

void BlockInner(od::value& v, BlockData& b) {
  Fields(v, "block", [&](std::string_view key, od::value& val) { BlockField(key, val, b); });
}

void BlockAdded(od::value& v, Rows& out) {
  std::string block_hash;
  BlockData b;
  bool have_block = false;
  Fields(v, "BlockAdded", [&](std::string_view key, od::value& val) {
    if (key == "block_hash") {
      block_hash = Hash(val, "BlockAdded.block_hash");
    } else if (key == "block") {
      have_block = true;
      Fields(val, "BlockAdded.block", [&](std::string_view k, od::value& x) {
        if (k == "Version2") {
          b.version = 2;
          BlockInner(x, b);
        } else if (k == "Version1") {
          b.version = 1;
          BlockInner(x, b);
        } else if (k.substr(0, 7) == "Version") {
          Fail("BlockAdded.block", "unknown block version " + std::string(k));
        } else {
          BlockField(k, x, b);  // 1.x JsonBlock: the block itself
        }
      });
    }
  });
  if (block_hash.empty()) Fail("BlockAdded.block_hash", "missing");
  if (!have_block || !b.have_header || !b.have_body) Fail("BlockAdded.block", "missing header/body");
  if (!b.hash.empty() && b.hash != block_hash) Fail("BlockAdded", "block_hash differs from block.hash");
  if (b.row.proposer.empty()) Fail("BlockAdded.block", "missing proposer");

  BlockRow& r = b.row;
  r.block_hash = block_hash;
  r.block_version = b.version;
  r.is_switch_block = b.era_end.present;
  int position = 0;
  for (auto& t : b.transactions) {
    ++r.transaction_count;
    if (t.transaction_kind == "deploy" && !(b.version == 1 && t.native_transfer)) ++r.deploy_count;
    if (t.native_transfer) ++r.transfer_count;
    t.block_hash = block_hash;
    t.position = position++;
  }
  if (b.version == 1) r.deploy_count = r.transaction_count - r.transfer_count;

  if (b.era_end.present) {
    const EraEndData& e = b.era_end;
    EraRow era;
    era.era_id = r.era_id;
    era.last_block_height = r.height;
    era.last_block_hash = block_hash;
    era.end_timestamp = r.timestamp;
    era.protocol_version = r.protocol_version;
    era.next_era_gas_price = e.next_era_gas_price;
    if (e.v2) {
      era.rewards_status = RewardsStatus::kComplete;
      era.rewards_source = "era_end";
    } else {
      era.rewards_status = RewardsStatus::kPending;
      era.rewards_source = "rpc";
    }
    era.delegator_rewards_status = RewardsStatus::kPending;
    out.eras.push_back(std::move(era));
    if (r.era_id < std::numeric_limits<std::int64_t>::max() && r.height < std::numeric_limits<std::int64_t>::max()) {
      EraRow next;
      next.era_id = r.era_id + 1;
      next.first_block_height = r.height + 1;
      out.eras.push_back(std::move(next));
    }
    std::map<std::pair<std::int64_t, std::string>, EraValidatorRow> validators;
    auto validator = [&](std::int64_t era_id, const std::string& pk) -> EraValidatorRow& {
      auto [it, inserted] = validators.try_emplace({era_id, pk});
      if (inserted) {
        it->second.era_id = era_id;
        it->second.public_key = pk;
      }
      return it->second;
    };
    if (r.era_id < std::numeric_limits<std::int64_t>::max()) {
      for (const auto& [pk, weight] : e.weights) validator(r.era_id + 1, pk).weight = weight;
    }
    for (const auto& pk : e.equivocators) validator(r.era_id, pk).is_equivocator = true;
    for (const auto& pk : e.inactive) validator(r.era_id, pk).is_inactive = true;
    for (const auto& [pk, amount] : e.report_rewards) validator(r.era_id, pk).era_report_reward = amount;
    for (auto& [key, row] : validators) out.era_validators.push_back(std::move(row));
    for (const auto& [pk, amounts] : e.rewards) {
      int index = 0;
      for (const auto& amount : amounts) {
        ValidatorRewardRow reward;
        reward.era_id = r.era_id;
        reward.public_key = pk;
        reward.reward_index = index++;
        reward.amount = amount;
        reward.source = "era_end";
        reward.switch_block_hash = block_hash;
        out.validator_rewards.push_back(std::move(reward));
      }
    }
  }
  for (auto& t : b.transactions) out.block_transactions.push_back(std::move(t));
  out.blocks.push_back(std::move(b.row));
}

// ---- transactions ----

// ExecutableDeployItem: {"ModuleBytes"|"StoredContractByHash"|…|"Transfer": {…}}
void DeployItem(od::value& v, std::string_view path, bool payment, TransactionRow& tx) {
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (!payment) tx.target = std::string(variant);
    Fields(inner, path, [&](std::string_view key, od::value& val) {
      if (key == "args") {
        if (payment) tx.payment_amount = FindDecimalArg(val, "amount", std::string(path) + ".args");
      } else if (!payment && key == "entry_point") {
        tx.entry_point = Text(val, path);
      } else if (!payment && (key == "hash" || key == "name")) {
        tx.target_id = key == "hash" ? Hash(val, path) : Text(val, path);
      }
    });
  });
}

// A Deploy (DeployAccepted, TransactionAccepted.Deploy).
void Deploy(od::value& v, std::string_view path, Rows& out) {
  TransactionRow tx;
  tx.kind = "deploy";
  tx.status = TxStatus::kAccepted;
  tx.accepted = true;
  tx.pricing_mode = "classic";
  bool have_header = false;
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "hash") {
      tx.transaction_hash = Hash(val, "deploy.hash");
    } else if (key == "header") {
      have_header = true;
      Fields(val, "deploy.header", [&](std::string_view k, od::value& x) {
        if (k == "account") {
          tx.initiator_public_key = PublicKey(x, "deploy.header.account");
        } else if (k == "timestamp") {
          tx.timestamp = Timestamp(x, "deploy.header.timestamp");
        } else if (k == "ttl") {
          tx.ttl_ms = Ttl(x, "deploy.header.ttl");
        } else if (k == "gas_price") {
          tx.gas_price = Int64(x, "deploy.header.gas_price");
        } else if (k == "chain_name") {
          tx.chain_name = Text(x, "deploy.header.chain_name");
        }
      });
    } else if (key == "payment") {
      DeployItem(val, "deploy.payment", true, tx);
    } else if (key == "session") {
      DeployItem(val, "deploy.session", false, tx);
    } else if (key == "approvals") {
      tx.approvals_count = static_cast<std::int64_t>(CountElements(val, "deploy.approvals"));
    }
  });
  if (tx.transaction_hash.empty() || !have_header || !tx.initiator_public_key || !tx.timestamp) {
    Fail(path, "deploy without hash/header.account/header.timestamp");
  }
  out.transactions.push_back(std::move(tx));
}

void PricingMode(od::value& v, TransactionRow& tx) {
  Variant(v, "payload.pricing_mode", [&](std::string_view variant, od::value& inner) {
    if (variant == "Fixed") {
      tx.pricing_mode = "fixed";
    } else if (variant == "PaymentLimited") {
      tx.pricing_mode = "payment_limited";
    } else if (variant == "Prepaid") {
      tx.pricing_mode = "prepaid";
    } else if (variant == "Classic") {
      tx.pricing_mode = "classic";
    } else {
      tx.pricing_mode = Lower(variant);
    }
    Fields(inner, "payload.pricing_mode", [&](std::string_view key, od::value& val) {
      if (key == "gas_price_tolerance") {
        tx.gas_price_tolerance = Int64(val, "pricing_mode.gas_price_tolerance");
      } else if (key == "payment_amount") {
        tx.payment_amount = U64Text(val, "pricing_mode.payment_amount");
      } else if (key == "gas_price") {
        tx.gas_price = Int64(val, "pricing_mode.gas_price");
      }
    });
  });
}

// TransactionV1 "fields" (or the pre-release "body"): entry_point, target.
void TransactionFields(od::value& v, TransactionRow& tx) {
  Fields(v, "payload.fields", [&](std::string_view key, od::value& val) {
    if (key == "entry_point") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("fields.entry_point", "unreadable", e);
      if (type == od::json_type::string) {
        tx.entry_point = Text(val, "fields.entry_point");
      } else {
        Variant(val, "fields.entry_point", [&](std::string_view variant, od::value& inner) {
          if (variant == "Custom") {
            tx.entry_point = Text(inner, "fields.entry_point.Custom");
          } else {
            tx.entry_point = std::string(variant);
          }
        });
      }
    } else if (key == "target") {
      od::json_type type;
      if (auto e = val.type().get(type)) Fail("fields.target", "unreadable", e);
      if (type == od::json_type::string) {
        tx.target = Text(val, "fields.target");
        return;
      }
      Variant(val, "fields.target", [&](std::string_view variant, od::value& inner) {
        tx.target = std::string(variant);
        if (variant != "Stored") return;
        Fields(inner, "fields.target.Stored", [&](std::string_view k, od::value& x) {
          if (k != "id") return;
          Variant(x, "fields.target.Stored.id", [&](std::string_view id_kind, od::value& id) {
            od::json_type id_type;
            if (auto e = id.type().get(id_type)) Fail("fields.target.Stored.id", "unreadable", e);
            if (id_type == od::json_type::string) {
              std::string_view text = Str(id, "fields.target.Stored.id");
              tx.target_id = IsHash(text) ? Lower(text) : std::string(text);
            } else {
              Fields(id, "fields.target.Stored.id", [&](std::string_view f, od::value& y) {
                if (f == "addr" || f == "name") {
                  std::string_view text = Str(y, "fields.target.Stored.id");
                  tx.target_id = IsHash(text) ? Lower(text) : std::string(text);
                }
              });
            }
            (void)id_kind;
          });
        });
      });
    }
  });
}

void TransactionV1(od::value& v, std::string_view path, Rows& out) {
  TransactionRow tx;
  tx.kind = "version1";
  tx.status = TxStatus::kAccepted;
  tx.accepted = true;
  bool have_payload = false;
  auto payload_field = [&](std::string_view key, od::value& val) {
    if (key == "initiator_addr") {
      InitiatorAddr(val, "payload.initiator_addr", tx.initiator_public_key, tx.initiator_account_hash);
    } else if (key == "timestamp") {
      tx.timestamp = Timestamp(val, "payload.timestamp");
    } else if (key == "ttl") {
      tx.ttl_ms = Ttl(val, "payload.ttl");
    } else if (key == "chain_name") {
      tx.chain_name = Text(val, "payload.chain_name");
    } else if (key == "pricing_mode") {
      PricingMode(val, tx);
    } else if (key == "fields") {
      TransactionFields(val, tx);
    }
  };
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (key == "hash") {
      tx.transaction_hash = Hash(val, "transaction.hash");
    } else if (key == "payload" || key == "header") {  // "header"/"body": pre-release TransactionV1
      have_payload = true;
      Fields(val, "transaction.payload", payload_field);
    } else if (key == "body") {
      TransactionFields(val, tx);
    } else if (key == "approvals") {
      tx.approvals_count = static_cast<std::int64_t>(CountElements(val, "transaction.approvals"));
    }
  });
  if (tx.transaction_hash.empty() || !have_payload || !tx.timestamp ||
      (!tx.initiator_public_key && !tx.initiator_account_hash)) {
    Fail(path, "transaction without hash/payload.initiator_addr/payload.timestamp");
  }
  out.transactions.push_back(std::move(tx));
}

void TransactionAccepted(od::value& v, Rows& out) {
  Variant(v, "TransactionAccepted", [&](std::string_view variant, od::value& inner) {
    if (variant == "Deploy") {
      Deploy(inner, "TransactionAccepted.Deploy", out);
    } else if (variant == "Version1") {
      TransactionV1(inner, "TransactionAccepted.Version1", out);
    } else {
      Fail("TransactionAccepted", "unknown transaction variant " + std::string(variant));
    }
  });
}

void DeployProcessed(od::value& v, Rows& out) {
  TransactionRow tx;
  tx.kind = "deploy";
  tx.status = TxStatus::kProcessed;
  EffectRows effects;
  bool have_result = false;
  Fields(v, "DeployProcessed", [&](std::string_view key, od::value& val) {
    if (key == "deploy_hash") {
      tx.transaction_hash = Hash(val, "DeployProcessed.deploy_hash");
    } else if (key == "account") {
      tx.initiator_public_key = PublicKey(val, "DeployProcessed.account");
    } else if (key == "timestamp") {
      tx.timestamp = Timestamp(val, "DeployProcessed.timestamp");
    } else if (key == "ttl") {
      tx.ttl_ms = Ttl(val, "DeployProcessed.ttl");
    } else if (key == "block_hash") {
      tx.block_hash = Hash(val, "DeployProcessed.block_hash");
    } else if (key == "execution_result") {
      have_result = true;
      ExecutionResultV1(val, "DeployProcessed.execution_result", tx, effects);
    }
  });
  if (tx.transaction_hash.empty() || !tx.block_hash || !have_result) {
    Fail("DeployProcessed", "missing deploy_hash/block_hash/execution_result");
  }
  AttachEffects(tx, effects, out);
  out.transactions.push_back(std::move(tx));
}

void TransactionProcessed(od::value& v, Rows& out) {
  TransactionRow tx;
  tx.status = TxStatus::kProcessed;
  EffectRows effects;
  bool have_result = false;
  Fields(v, "TransactionProcessed", [&](std::string_view key, od::value& val) {
    if (key == "transaction_hash") {
      TxHash h = TransactionHash(val, "TransactionProcessed.transaction_hash");
      tx.transaction_hash = std::move(h.hash);
      tx.kind = std::move(h.kind);
    } else if (key == "initiator_addr") {
      InitiatorAddr(val, "TransactionProcessed.initiator_addr", tx.initiator_public_key, tx.initiator_account_hash);
    } else if (key == "timestamp") {
      tx.timestamp = Timestamp(val, "TransactionProcessed.timestamp");
    } else if (key == "ttl") {
      tx.ttl_ms = Ttl(val, "TransactionProcessed.ttl");
    } else if (key == "block_hash") {
      tx.block_hash = Hash(val, "TransactionProcessed.block_hash");
    } else if (key == "execution_result") {
      have_result = true;
      Variant(val, "TransactionProcessed.execution_result", [&](std::string_view variant, od::value& inner) {
        if (variant == "Version2") {
          ExecutionResultV2(inner, "execution_result.Version2", tx, effects);
        } else if (variant == "Version1") {
          ExecutionResultV1(inner, "execution_result.Version1", tx, effects);
        } else {
          Fail("TransactionProcessed.execution_result", "unknown version " + std::string(variant));
        }
      });
    }
  });
  if (tx.transaction_hash.empty() || !tx.block_hash || !have_result) {
    Fail("TransactionProcessed", "missing transaction_hash/block_hash/execution_result");
  }
  AttachEffects(tx, effects, out);
  out.transactions.push_back(std::move(tx));
}

void Expired(od::value& v, bool v2, Rows& out) {
  TransactionRow tx;
  tx.status = TxStatus::kExpired;
  const char* path = v2 ? "TransactionExpired" : "DeployExpired";
  Fields(v, path, [&](std::string_view key, od::value& val) {
    if (!v2 && key == "deploy_hash") {
      tx.transaction_hash = Hash(val, "DeployExpired.deploy_hash");
      tx.kind = "deploy";
    } else if (v2 && key == "transaction_hash") {
      TxHash h = TransactionHash(val, "TransactionExpired.transaction_hash");
      tx.transaction_hash = std::move(h.hash);
      tx.kind = std::move(h.kind);
    }
  });
  if (tx.transaction_hash.empty()) Fail(path, "missing hash");
  out.transactions.push_back(std::move(tx));
}

// ---- signatures, faults, steps ----

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

// EraInfo.seigniorage_allocations: [{"Validator":{validator_public_key, amount}} |
// {"Delegator":{delegator_public_key, validator_public_key, amount}} |
// {"DelegatorKind":{delegator_kind:{"PublicKey"|"Purse": …}, validator_public_key, amount}} (2.0)]
// -> reward rows of `era_id`. Validator entries are skipped unless `validators` (2.x switch blocks
// already carry the validator totals).
void Allocations(od::value& v, std::string_view path, std::int64_t era_id, const char* source,
                 const OptText& switch_block_hash, bool validators, Rows& out) {
  std::map<std::string, int> validator_index;
  Elements(v, path, [&](od::value& a, std::size_t) {
    Variant(a, "seigniorage_allocations[]", [&](std::string_view kind, od::value& z) {
      std::string validator, delegator, amount;
      Fields(z, "seigniorage_allocations[]", [&](std::string_view h, od::value& w) {
        if (h == "validator_public_key") {
          validator = PublicKey(w, "allocation.validator_public_key");
        } else if (h == "delegator_public_key") {
          delegator = PublicKey(w, "allocation.delegator_public_key");
        } else if (h == "delegator_kind") {
          Variant(w, "allocation.delegator_kind", [&](std::string_view dk, od::value& x) {
            if (dk == "PublicKey") {
              delegator = PublicKey(x, "allocation.delegator_kind.PublicKey");
            } else if (dk == "Purse") {
              delegator = URef(x, "allocation.delegator_kind.Purse");
            } else {
              Fail("allocation.delegator_kind", "unknown variant " + std::string(dk));
            }
          });
        } else if (h == "amount") {
          amount = Motes(w, "allocation.amount");
        }
      });
      if (validator.empty() || amount.empty()) Fail("seigniorage_allocations[]", "missing validator/amount");
      if (kind == "Validator") {
        if (!validators) return;
        ValidatorRewardRow row;
        row.era_id = era_id;
        row.public_key = validator;
        row.reward_index = validator_index[validator]++;
        row.amount = std::move(amount);
        row.source = source;
        row.switch_block_hash = switch_block_hash;
        out.validator_rewards.push_back(std::move(row));
      } else if (kind == "Delegator" || kind == "DelegatorKind") {
        if (delegator.empty()) Fail("seigniorage_allocations[]", "delegator allocation without delegator");
        DelegatorRewardRow row;
        row.era_id = era_id;
        row.delegator_public_key = std::move(delegator);
        row.validator_public_key = std::move(validator);
        row.amount = std::move(amount);
        row.source = source;
        row.switch_block_hash = switch_block_hash;
        out.delegator_rewards.push_back(std::move(row));
      } else {
        Fail("seigniorage_allocations[]", "unknown allocation " + std::string(kind));
      }
    });
  });
}

// "era-<n>" -> n.
std::optional<std::int64_t> EraKey(std::string_view key) {
  constexpr std::string_view kPrefix = "era-";
  if (key.substr(0, kPrefix.size()) != kPrefix || key.size() == kPrefix.size() || key.size() > kPrefix.size() + 18) {
    return std::nullopt;
  }
  std::int64_t n = 0;
  for (char c : key.substr(kPrefix.size())) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// 1.x Step transforms: counts them and reads the WriteEraInfo transform(s) (key "era-<n>"): the
// era's seigniorage allocations in motes, as reward rows (source "step") and era n marked complete.
// Every other transform is skipped by the On Demand iterator without being materialised.
std::size_t StepTransforms(od::value& v, Rows& out) {
  std::size_t count = 0;
  Elements(v, "Step.execution_effect.transforms", [&](od::value& entry, std::size_t) {
    ++count;
    std::string_view key;
    Rows era_info;
    bool have_era_info = false;
    Fields(entry, "Step.transforms[]", [&](std::string_view k, od::value& x) {
      if (k == "key") {
        key = Str(x, "Step.transforms[].key");
        return;
      }
      if (k != "transform") return;
      od::json_type type;
      if (auto e = x.type().get(type)) Fail("Step.transforms[].transform", "unreadable", e);
      if (type != od::json_type::object) return;  // "Identity", …
      Variant(x, "Step.transforms[].transform", [&](std::string_view variant, od::value& inner) {
        if (variant != "WriteEraInfo") return;
        have_era_info = true;
        Fields(inner, "WriteEraInfo", [&](std::string_view f, od::value& allocations) {
          if (f != "seigniorage_allocations") return;
          // The era is only known from the key; rows get it below.
          Allocations(allocations, "WriteEraInfo.seigniorage_allocations", 0, "step", std::nullopt, true, era_info);
        });
      });
    });
    if (!have_era_info) return;
    std::optional<std::int64_t> era_id = EraKey(key);
    if (!era_id) Fail("Step.transforms[]", "WriteEraInfo at a key other than era-<n>");
    for (auto& r : era_info.validator_rewards) r.era_id = *era_id;
    for (auto& r : era_info.delegator_rewards) r.era_id = *era_id;
    EraRow era;
    era.era_id = *era_id;
    era.rewards_status = RewardsStatus::kComplete;
    era.rewards_source = "step";
    era.delegator_rewards_status = RewardsStatus::kComplete;
    out.eras.push_back(std::move(era));
    out.Append(std::move(era_info));
  });
  return count;
}

// Step: the era and the size of its effects, which are skipped, not materialised, except for a 1.x
// WriteEraInfo transform (the era's rewards in motes).
void Step(od::value& v, Rows& out) {
  StepRow row;
  bool have_era = false, have_effects = false;
  Fields(v, "Step", [&](std::string_view key, od::value& val) {
    if (key == "era_id") {
      row.era_id = Int64(val, "Step.era_id");
      have_era = true;
    } else if (key == "execution_effects") {  // 2.x: [{key, kind}]
      od::array array;
      if (auto e = val.get_array().get(array)) Fail("Step.execution_effects", "expected an array", e);
      std::size_t count = 0;
      if (auto e = array.count_elements().get(count)) Fail("Step.execution_effects", "malformed array", e);
      std::string_view raw;
      if (auto e = array.raw_json().get(raw)) Fail("Step.execution_effects", "malformed array", e);
      row.format = 2;
      row.effect_count = static_cast<std::int64_t>(count);
      row.effect_bytes = static_cast<std::int64_t>(raw.size());
      have_effects = true;
    } else if (key == "execution_effect") {  // 1.x: {operations, transforms}
      od::object object;
      if (auto e = val.get_object().get(object)) Fail("Step.execution_effect", "expected an object", e);
      std::string_view raw;
      if (auto e = object.raw_json().get(raw)) Fail("Step.execution_effect", "malformed object", e);
      if (auto e = object.reset().error()) Fail("Step.execution_effect", "malformed object", e);
      // Targeted scan: only a Step that names WriteEraInfo has its transforms walked one by one;
      // the others are just counted (the common case costs a memchr-speed search).
      constexpr std::string_view kEraInfo = "\"WriteEraInfo\"";
      const bool has_era_info = ::memmem(raw.data(), raw.size(), kEraInfo.data(), kEraInfo.size()) != nullptr;
      std::size_t count = 0;
      bool have_transforms = false;
      for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) Fail("Step.execution_effect", "malformed object", e);
        std::string_view k;
        if (auto e = field.unescaped_key().get(k)) Fail("Step.execution_effect", "malformed key", e);
        if (k != "transforms") continue;
        if (have_transforms) Fail("Step.execution_effect", "duplicate transforms");
        if (has_era_info) {
          od::value transforms = field.value();
          count = StepTransforms(transforms, out);
        } else {
          od::array transforms;
          if (auto e = field.value().get_array().get(transforms)) {
            Fail("Step.execution_effect.transforms", "expected an array", e);
          }
          if (auto e = transforms.count_elements().get(count)) {
            Fail("Step.execution_effect.transforms", "malformed array", e);
          }
        }
        have_transforms = true;
      }
      if (!have_transforms) Fail("Step.execution_effect", "missing transforms");
      row.format = 1;
      row.effect_count = static_cast<std::int64_t>(count);
      row.effect_bytes = static_cast<std::int64_t>(raw.size());
      have_effects = true;
    }
  });
  if (!have_era || !have_effects) Fail("Step", "missing era_id/execution_effect(s)");
  out.steps.push_back(std::move(row));
}

void Dispatch(std::string_view type, od::value& body, Rows& out, ParseResult& result) {
  if (type == "BlockAdded") {
    BlockAdded(body, out);
  } else if (type == "DeployAccepted") {
    Deploy(body, "DeployAccepted", out);
  } else if (type == "TransactionAccepted") {
    TransactionAccepted(body, out);
  } else if (type == "DeployProcessed") {
    DeployProcessed(body, out);
  } else if (type == "TransactionProcessed") {
    TransactionProcessed(body, out);
  } else if (type == "DeployExpired") {
    Expired(body, false, out);
  } else if (type == "TransactionExpired") {
    Expired(body, true, out);
  } else if (type == "FinalitySignature") {
    FinalitySignature(body, out);
  } else if (type == "Fault") {
    Fault(body, out);
  } else if (type == "Step") {
    Step(body, out);
  } else if (type == "ApiVersion") {
    Str(body, "ApiVersion");
    result.outcome = Outcome::kIgnored;
    return;
  } else {
    Fail("unknown event type " + std::string(type));
  }
  result.outcome = Outcome::kStored;
}

// Records the event's identity on the rows that keep one (a transaction under the slot of its event).
void StampIdentity(Rows& rows, std::string_view event_type, const EventIdentity& identity) {
  for (auto& r : rows.blocks) r.event = identity;
  for (auto& r : rows.faults) r.event = identity;
  for (auto& r : rows.finality_signatures) r.event = identity;
  for (auto& r : rows.steps) r.event = identity;
  auto ends_with = [&](std::string_view suffix) {
    return event_type.size() >= suffix.size() && event_type.substr(event_type.size() - suffix.size()) == suffix;
  };
  for (auto& r : rows.transactions) {
    if (ends_with("Accepted")) {
      r.accepted_event = identity;
    } else if (ends_with("Processed")) {
      r.processed_event = identity;
    } else if (ends_with("Expired")) {
      r.expired_event = identity;
    }
  }
}

}  // namespace

struct Parser::Impl {
  od::parser parser;
  std::string buffer;  // payload + padding
  Rows scratch;

  simdjson::padded_string_view Pad(std::string_view payload) {
    if (buffer.size() < payload.size() + simdjson::SIMDJSON_PADDING) {
      buffer.resize(payload.size() + simdjson::SIMDJSON_PADDING);
    }
    std::memcpy(buffer.data(), payload.data(), payload.size());
    std::memset(buffer.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
    return simdjson::padded_string_view(buffer.data(), payload.size(), buffer.size());
  }
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

ParseResult Parser::Parse(std::string_view payload, Rows& out, const EventIdentity& identity) {
  ParseResult result;
  Rows& rows = impl_->scratch;
  rows.Clear();
  try {
    od::document doc;
    if (auto e = impl_->parser.iterate(impl_->Pad(payload)).get(doc)) Fail("", "invalid JSON", e);
    od::json_type type;
    if (auto e = doc.type().get(type)) Fail("", "invalid JSON", e);
    if (type == od::json_type::string) {
      std::string_view text;
      if (auto e = doc.get_string().get(text)) Fail("", "invalid JSON", e);
      if (text != "Shutdown") Fail("a JSON string payload other than \"Shutdown\"");
      result.event_type = "Shutdown";
      result.outcome = Outcome::kIgnored;
      return result;
    }
    if (type != od::json_type::object) Fail("payload is neither a JSON object nor \"Shutdown\"");
    od::object root;
    if (auto e = doc.get_object().get(root)) Fail("", "invalid JSON", e);
    int keys = 0;
    for (auto field_result : root) {
      od::field field;
      if (auto e = std::move(field_result).get(field)) Fail("", "invalid JSON", e);
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) Fail("", "invalid JSON", e);
      if (++keys > 1) Fail("more than one top-level key (" + result.event_type + ", " + std::string(key) + ")");
      result.event_type = std::string(key);
      Dispatch(key, field.value(), rows, result);
    }
    if (keys == 0) Fail("empty JSON object: no event type");
  } catch (const Reject& r) {
    rows.Clear();
    result.outcome = Outcome::kRejected;
    result.reason = r.reason;
    return result;
  } catch (const simdjson::simdjson_error& e) {
    rows.Clear();
    result.outcome = Outcome::kRejected;
    result.reason = std::string("invalid JSON (") + e.what() + ")";
    return result;
  }
  if (identity.Known()) StampIdentity(rows, result.event_type, identity);
  result.rows = rows.Count();
  out.Append(std::move(rows));
  return result;
}

bool Parser::ParseEraInfoResponse(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                                  Rows& out, std::string& error) {
  return ParseEraSummary(response, era_id, switch_block_hash, true, out, error);
}

bool Parser::ParseEraSummaryResponse(std::string_view response, std::int64_t era_id,
                                     const std::string& switch_block_hash, Rows& out, std::string& error) {
  return ParseEraSummary(response, era_id, switch_block_hash, false, out, error);
}

bool Parser::ParseEraSummary(std::string_view response, std::int64_t era_id, const std::string& switch_block_hash,
                             bool validators, Rows& out, std::string& error) {
  Rows& rows = impl_->scratch;
  rows.Clear();
  try {
    od::document doc;
    if (auto e = impl_->parser.iterate(impl_->Pad(response)).get(doc)) Fail("", "invalid JSON", e);
    od::value root;
    if (auto e = doc.get_value().get(root)) Fail("", "invalid JSON", e);
    bool have_result = false, have_summary = false;
    std::string rpc_error;
    Fields(root, "response", [&](std::string_view key, od::value& val) {
      if (key == "error") {
        od::object object;
        std::string_view raw;
        if (val.get_object().get(object) == simdjson::SUCCESS && object.raw_json().get(raw) == simdjson::SUCCESS) {
          rpc_error = std::string(raw.substr(0, 300));
        } else {
          rpc_error = "error";
        }
      } else if (key == "result") {
        have_result = true;
        Fields(val, "result", [&](std::string_view k, od::value& x) {
          if (k != "era_summary" || IsNull(x)) return;
          have_summary = true;
          Fields(x, "result.era_summary", [&](std::string_view f, od::value& y) {
            if (f == "era_id") {
              std::int64_t id = Int64(y, "era_summary.era_id");
              if (id != era_id) Fail("era_summary.era_id", "is " + std::to_string(id) + ", expected " + std::to_string(era_id));
            } else if (f == "block_hash") {
              std::string hash = Hash(y, "era_summary.block_hash");
              if (!switch_block_hash.empty() && hash != switch_block_hash) Fail("era_summary.block_hash", "is not the switch block");
            } else if (f == "stored_value") {
              Variant(y, "era_summary.stored_value", [&](std::string_view variant, od::value& info) {
                if (variant != "EraInfo") Fail("era_summary.stored_value", "is " + std::string(variant) + ", not EraInfo");
                Fields(info, "EraInfo", [&](std::string_view g, od::value& allocations) {
                  if (g != "seigniorage_allocations") return;
                  Allocations(allocations, "seigniorage_allocations", era_id, "rpc", switch_block_hash,
                              validators, rows);
                });
              });
            }
          });
        });
      }
    });
    if (!rpc_error.empty()) Fail("RPC error " + rpc_error);
    if (!have_result) Fail("RPC response without result");
    if (!have_summary) Fail("RPC result has no era_summary (the node does not know this switch block)");
  } catch (const Reject& r) {
    rows.Clear();
    error = r.reason;
    return false;
  } catch (const simdjson::simdjson_error& e) {
    rows.Clear();
    error = std::string("invalid JSON (") + e.what() + ")";
    return false;
  }
  out.Append(std::move(rows));
  return true;
}

}  // namespace ces::model
