// Transactions: DeployAccepted, TransactionAccepted (Deploy, Version1), DeployProcessed,
// TransactionProcessed, DeployExpired, TransactionExpired; the transaction hash and initiator shapes
// other events share.

#include "ces/common/text.hpp"
#include "parser_internal.hpp"

namespace ces::model::detail {

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

namespace {

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


}  // namespace

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

namespace {

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
      tx.pricing_mode = text::ToLower(variant);
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
              tx.target_id = IsHash(text) ? text::ToLower(text) : std::string(text);
            } else {
              Fields(id, "fields.target.Stored.id", [&](std::string_view f, od::value& y) {
                if (f == "addr" || f == "name") {
                  std::string_view text = Str(y, "fields.target.Stored.id");
                  tx.target_id = IsHash(text) ? text::ToLower(text) : std::string(text);
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

}  // namespace

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

}  // namespace ces::model::detail
