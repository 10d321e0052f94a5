// Execution results (1.x ExecutionResult, 2.x ExecutionResultV2) and the effects the model keeps from
// them: transfers, bids and delegations, withdrawals and unbonds.

#include "ces/common/text.hpp"
#include "parser_internal.hpp"

namespace ces::model::detail {
namespace {

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
          row.delegator_purse = IsHash(purse) ? text::ToLower(purse) : URef(inner, path);
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

// BidKind::Unbond: one withdrawal row per era of the unbond.
void Unbond(od::value& inner, std::string_view path, int effect_index, EffectRows& out) {
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
          unbonder_purse = IsHash(purse) ? text::ToLower(purse) : URef(k, path);
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
}

// The other stored BidKind variants (Validator, Delegator, Credit, Bridge, Reservation) into one bid
// row; false for a variant the model does not store.
bool SingleBid(std::string_view variant, od::value& inner, std::string_view path, BidRow& row) {
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
            row.delegator_purse = IsHash(purse) ? text::ToLower(purse) : URef(k, path);
          }
        });
      }
    });
  } else {
    return false;
  }
  return true;
}

void BidKind(od::value& v, std::string_view path, int effect_index, EffectRows& out) {
  Variant(v, path, [&](std::string_view variant, od::value& inner) {
    if (variant == "Unified") {
      UnifiedBid(inner, path, effect_index, out);
      return;
    }
    if (variant == "Unbond") {
      Unbond(inner, path, effect_index, out);
      return;
    }
    BidRow row;
    row.effect_index = effect_index;
    if (!SingleBid(variant, inner, path, row)) return;  // a BidKind variant the model does not store
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


}  // namespace

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

}  // namespace ces::model::detail
