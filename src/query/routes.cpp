#include "routes.hpp"

#include <string>
#include <utility>

#include "ces/common/status.hpp"
#include "ces/query/values.hpp"

namespace ces::query::detail {
namespace {

constexpr const char* kImmutable = "public, max-age=31536000, immutable";

// column = value, for a query filter that was given.
void WhereEqual(Filter& f, const char* column, const ParamValue* value) {
  if (value) f.where.push_back(std::string(column) + " = " + f.Param(value->text));
}

void WhereEqualBigint(Filter& f, const char* column, const ParamValue* value) {
  if (value) f.where.push_back(std::string(column) + " = " + f.Param(value->text) + "::bigint");
}

void TransactionAccount(const Account& a, Filter& f) {
  std::string cond = "(x.initiator_account_hash = " + f.Param(a.account_hash);
  if (a.public_key) cond += " OR x.initiator_public_key = " + f.Param(*a.public_key);
  f.where.push_back(cond + ")");
}

void TransferAccount(const Account& a, Filter& f) {
  const std::string h = f.Param(a.account_hash);
  std::string cond = "(t.from_account_hash = " + h + " OR t.to_account_hash = " + h;
  if (a.public_key) cond += " OR t.from_public_key = " + f.Param(*a.public_key);
  f.where.push_back(cond + ")");
}

// A list under one condition on the path parameter: "<column> = $1".
Response ListWhere(Runner& db, const Call& c, const char* column) {
  Filter f;
  f.where.push_back(std::string(column) + " = " + f.Param(c.params.path.text));
  return db.List(*c.list, std::move(f), c.args);
}

// A list of an era given in the path.
Response ListOfEra(Runner& db, const Call& c, const char* column) {
  Filter f;
  f.where.push_back(std::string(column) + " = " + f.Param(c.params.path.text) + "::bigint");
  return db.List(*c.list, std::move(f), c.args);
}

// ---- blocks ----

Response Blocks(Runner& db, const Call& c) {
  Filter f;
  WhereEqual(f, "b.proposer", c.params.Query("proposer"));
  WhereEqualBigint(f, "b.era_id", c.params.Query("era"));
  return db.List(*c.list, std::move(f), c.args);
}

Response LatestBlock(Runner& db) {
  const std::string sql = "SELECT " + SelectList(BlockCols()) + " FROM blocks b ORDER BY b.height DESC, b.block_hash LIMIT 1";
  Response error;
  ResultSet rs;
  if (!db.Run(sql, {}, rs, error)) return error;
  if (rs.Rows() == 0) return Error(common::HttpStatus(common::ErrorKind::kNotFound), "block not found: the store has no block yet");
  Response out;
  AppendObject(out.body, BlockCols(), rs, 0);
  out.cache_control = "no-cache";
  return out;
}

Response BlockAtHeight(Runner& db, const std::string& height, const std::string& as_given) {
  Filter f;
  f.where.push_back("b.height = " + f.Param(height) + "::bigint");
  Response out = db.Object(BlockCols(), "blocks b", f, "block at height " + as_given);
  if (out.status == 200) out.cache_control = "no-cache";
  return out;
}

// A block by hash never changes: served from memory once read.
Response BlockByHash(Runner& db, const std::string& hash) {
  if (auto body = db.CachedBlock(hash)) {
    std::string etag = Fnv(*body);
    return Response{200, std::move(*body), std::move(etag), kImmutable, {}};
  }
  Filter f;
  f.where.push_back("b.block_hash = " + f.Param(hash));
  Response out = db.Object(BlockCols(), "blocks b", f, "block " + hash);
  if (out.status != 200) return out;
  out.etag = Fnv(out.body);
  out.cache_control = kImmutable;
  db.CacheBlock(hash, out.body);
  return out;
}

Response Block(Runner& db, const Call& c) {
  const ParamValue& id = c.params.path;
  if (id.text == "latest") return LatestBlock(db);
  if (id.number) return BlockAtHeight(db, id.text, *c.args.Path("hash"));
  return BlockByHash(db, id.text);
}

Response ValidatorBlocks(Runner& db, const Call& c) { return ListWhere(db, c, "b.proposer"); }

Response BlockTransactions(Runner& db, const Call& c) {
  const std::string& hash = c.params.path.text;
  Filter exists;
  exists.where.push_back("b.block_hash = " + exists.Param(hash));
  Response found = db.Object({{"blockHash", "b.block_hash", Kind::kText}}, "blocks b", exists, "block " + hash);
  if (found.status != 200) return found;
  return ListWhere(db, c, "bt.block_hash");
}

Response BlockSignatures(Runner& db, const Call& c) { return ListWhere(db, c, "s.block_hash"); }

// ---- deploys (the Java store's shape) and transactions ----

void TransactionFilters(const Params& params, Filter& f) {
  if (const ParamValue* account = params.Query("account")) TransactionAccount(*account->account, f);
  WhereEqual(f, "x.block_hash", params.Query("block"));
  WhereEqual(f, "x.status", params.Query("status"));
}

Response Deploys(Runner& db, const Call& c) {
  Filter f;
  f.where.push_back("x.kind = 'deploy'");
  TransactionFilters(c.params, f);
  return db.List(*c.list, std::move(f), c.args);
}

Response Transactions(Runner& db, const Call& c) {
  Filter f;
  TransactionFilters(c.params, f);
  WhereEqual(f, "x.kind", c.params.Query("kind"));
  return db.List(*c.list, std::move(f), c.args);
}

// A processed, accepted transaction no longer changes: cached for a year, else revalidated.
Response TransactionObject(Runner& db, const std::string& hash, bool deploy) {
  Filter f;
  f.where.push_back("x.transaction_hash = " + f.Param(hash));
  if (deploy) f.where.push_back("x.kind = 'deploy'");
  std::vector<Col> cols = deploy ? DeployCols() : TransactionCols();
  cols.push_back({"_immutable", "(x.status = 'processed' AND x.accepted)", Kind::kBool});
  Response out = db.Object(cols, "transactions x", f, (deploy ? "deploy " : "transaction ") + hash);
  if (out.status != 200) return out;
  // The helper column decides the caching and is cut from the body.
  const auto pos = out.body.rfind(",\"_immutable\":");
  const bool immutable = out.body.compare(pos + 14, 4, "true") == 0;
  out.body.erase(pos, out.body.size() - 1 - pos);
  out.etag = Fnv(out.body);
  out.cache_control = immutable ? kImmutable : "no-cache";
  return out;
}

Response Deploy(Runner& db, const Call& c) { return TransactionObject(db, c.params.path.text, true); }
Response Transaction(Runner& db, const Call& c) { return TransactionObject(db, c.params.path.text, false); }

// The transfers of a transaction that exists (404 otherwise).
Response TransfersOf(Runner& db, const Call& c, bool deploy) {
  const std::string& hash = c.params.path.text;
  Filter exists;
  exists.where.push_back("x.transaction_hash = " + exists.Param(hash));
  if (deploy) exists.where.push_back("x.kind = 'deploy'");
  Response found = db.Object({{"h", "x.transaction_hash", Kind::kText}}, "transactions x", exists,
                             (deploy ? "deploy " : "transaction ") + hash);
  if (found.status != 200) return found;
  return ListWhere(db, c, "t.transaction_hash");
}

Response DeployTransfers(Runner& db, const Call& c) { return TransfersOf(db, c, true); }
Response TransactionTransfers(Runner& db, const Call& c) { return TransfersOf(db, c, false); }

// ---- transfers ----

Response Transfers(Runner& db, const Call& c) {
  Filter f;
  if (const ParamValue* account = c.params.Query("account")) TransferAccount(*account->account, f);
  return db.List(*c.list, std::move(f), c.args);
}

Response AccountTransfers(Runner& db, const Call& c) {
  Filter f;
  TransferAccount(*c.params.path.account, f);
  return db.List(*c.list, std::move(f), c.args);
}

// ---- era validators and rewards ----

Response EraValidators(Runner& db, const Call& c) {
  Filter f;
  WhereEqual(f, "v.public_key", c.params.Query("public_key"));
  return db.List(*c.list, std::move(f), c.args);
}

Response EraValidatorsOfEra(Runner& db, const Call& c) { return ListOfEra(db, c, "v.era_id"); }
Response ValidatorRewards(Runner& db, const Call& c) { return ListWhere(db, c, "r.public_key"); }

Response DelegatorRewards(Runner& db, const Call& c) {
  Filter f;
  f.where.push_back("r.delegator_public_key = " + f.Param(c.params.path.text));
  WhereEqual(f, "r.validator_public_key", c.params.Query("validator"));
  return db.List(*c.list, std::move(f), c.args);
}

// The sum as the Java store answered it: a bare JSON number, every digit (0 when there is none). The
// eras whose rewards are not known yet (so not in the sum) go in the header X-Pending-Eras.
Response Total(Runner& db, const std::string& key, const char* sum_sql, const char* pending_sql) {
  const std::string sql = std::string("SELECT (") + sum_sql + ")::text, (" + pending_sql + ")::text";
  Response error;
  ResultSet rs;
  if (!db.Run(sql, {key}, rs, error)) return error;
  Response out;
  AppendJsonNumber(out.body, rs.Value(0, 0));
  out.pending_eras = std::string(rs.Value(0, 1));
  return out;
}

constexpr const char* kValidatorRewardsPending =
    "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e WHERE e.rewards_status = 'pending' "
    "AND EXISTS (SELECT 1 FROM era_validators v WHERE v.era_id = e.era_id AND v.public_key = $1)";
constexpr const char* kDelegatorRewardsPending =
    "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e "
    "WHERE e.delegator_rewards_status = 'pending' AND EXISTS "
    "(SELECT 1 FROM era_validators v WHERE v.era_id = e.era_id AND v.public_key = $1)";

Response ValidatorTotalRewards(Runner& db, const Call& c) {
  return Total(db, c.params.path.text, "SELECT coalesce(sum(amount), 0) FROM validator_rewards WHERE public_key = $1",
               kValidatorRewardsPending);
}

Response ValidatorTotalDelegatorRewards(Runner& db, const Call& c) {
  return Total(db, c.params.path.text,
               "SELECT coalesce(sum(amount), 0) FROM delegator_rewards WHERE validator_public_key = $1",
               kDelegatorRewardsPending);
}

Response DelegatorTotalRewards(Runner& db, const Call& c) {
  return Total(db, c.params.path.text,
               "SELECT coalesce(sum(amount), 0) FROM delegator_rewards WHERE delegator_public_key = $1",
               "SELECT coalesce(json_agg(e.era_id ORDER BY e.era_id), '[]') FROM eras e "
               "WHERE e.delegator_rewards_status = 'pending' AND $1::text IS NOT NULL");
}

// ---- faults, steps, eras ----

Response Faults(Runner& db, const Call& c) {
  Filter f;
  WhereEqualBigint(f, "f.era_id", c.params.Query("era"));
  WhereEqual(f, "f.public_key", c.params.Query("public_key"));
  return db.List(*c.list, std::move(f), c.args);
}

// An object of the era given in the path.
Response ObjectOfEra(Runner& db, const Call& c, const std::vector<Col>& cols, const char* from, const char* column,
                     const std::string& what) {
  Filter f;
  f.where.push_back(std::string(column) + " = " + f.Param(c.params.path.text) + "::bigint");
  return db.Object(cols, from, f, what + c.params.path.text);
}

Response StepOfEra(Runner& db, const Call& c) { return ObjectOfEra(db, c, StepCols(), "steps s", "s.era_id", "step of era "); }
Response Eras(Runner& db, const Call& c) { return db.List(*c.list, Filter{}, c.args); }
Response Era(Runner& db, const Call& c) { return ObjectOfEra(db, c, EraCols(), "eras e", "e.era_id", "era "); }

// ---- stakes (from bids) and withdrawals ----

Response Validators(Runner& db, const Call& c) { return db.List(*c.list, Filter{}, c.args); }

// The validator's current bid and its delegators' current delegations.
Response Validator(Runner& db, const Call& c) {
  const std::string& key = c.params.path.text;
  Filter f;
  f.where.push_back("vb.validator_public_key = " + f.Param(key));
  Response out = db.Object(ValidatorBidCols(), kLatestValidatorBids, f, "validator " + key);
  if (out.status != 200) return out;
  const std::string sql = "SELECT " + SelectList(DelegationCols()) + " FROM " +
                          LatestDelegations("validator_public_key = $1") +
                          " ORDER BY d.delegator_public_key, d.delegator_purse";
  Response error;
  ResultSet rs;
  if (!db.Run(sql, {key}, rs, error)) return error;
  out.body.pop_back();
  out.body += ",\"delegators\":[";
  for (int r = 0; r < rs.Rows(); ++r) {
    if (r) out.body.push_back(',');
    AppendObject(out.body, DelegationCols(), rs, r);
  }
  out.body += "]}";
  return out;
}

Response Delegations(Runner& db, const Call& c) {
  Filter f;
  f.Param(c.params.path.text);  // $1 of the list's FROM (DelegationList)
  return db.List(*c.list, std::move(f), c.args);
}

Response Withdrawals(Runner& db, const Call& c) {
  Filter f;
  if (const ParamValue* key = c.params.Query("public_key")) {
    const std::string p = f.Param(key->text);
    f.where.push_back("(w.validator_public_key = " + p + " OR w.unbonder_public_key = " + p + ")");
  }
  return db.List(*c.list, std::move(f), c.args);
}

}  // namespace

const std::vector<Route>& RouteTable() {
  using T = ParamType;
  // The rules are built on first use, not at static initialisation (Engine::Routes() may run during
  // another file's).
  const ParamRule hash_path{"hash", T::kHash};
  const ParamRule key_path{"key", T::kPublicKey};
  const ParamRule era_path{"era", T::kInteger};
  const ParamRule public_key{"public_key", T::kPublicKey};
  const ParamRule account{"account", T::kAccount};
  const ParamRule block{"block", T::kHash};
  const ParamRule status{"status", T::kOneOf, {"accepted", "expired", "processed"}};
  static const std::vector<Route> kRoutes = {
      {"/api/v1/blocks", {{}, {{"proposer", T::kPublicKey}, {"era", T::kInteger}}}, &BlockList(), Blocks},
      {"/api/v1/blocks/{hash}", {ParamRule{"hash", T::kBlockId}, {}}, nullptr, Block},
      {"/api/v1/blocks/{hash}/transactions", {hash_path, {}}, &BlockTransactionList(), BlockTransactions},
      {"/api/v1/blocks/{hash}/signatures", {hash_path, {}}, &SignatureList(), BlockSignatures},
      {"/api/v1/validators/{key}/blocks", {key_path, {}}, &BlockList(), ValidatorBlocks},
      {"/api/v1/deploys", {{}, {account, block, status}}, &DeployList(), Deploys},
      {"/api/v1/deploys/{hash}", {hash_path, {}}, nullptr, Deploy},
      {"/api/v1/deploys/{hash}/transfers", {hash_path, {}}, &TransferList(), DeployTransfers},
      {"/api/v1/transactions", {{}, {account, block, status, {"kind", T::kOneOf, {"deploy", "version1"}}}},
       &TransactionList(), Transactions},
      {"/api/v1/transactions/{hash}", {hash_path, {}}, nullptr, Transaction},
      {"/api/v1/transactions/{hash}/transfers", {hash_path, {}}, &TransferList(), TransactionTransfers},
      {"/api/v1/transfers", {{}, {account}}, &TransferList(), Transfers},
      {"/api/v1/accounts/{account}/transfers", {account, {}}, &TransferList(), AccountTransfers},
      {"/api/v1/era-validators", {{}, {public_key}}, &EraValidatorList(), EraValidators},
      {"/api/v1/era-validators/{era}", {era_path, {}}, &EraValidatorList(), EraValidatorsOfEra},
      {"/api/v1/validators/{key}/rewards", {key_path, {}}, &ValidatorRewardList(), ValidatorRewards},
      {"/api/v1/validators/{key}/total-rewards", {key_path, {}}, nullptr, ValidatorTotalRewards},
      {"/api/v1/validators/{key}/total-delegator-rewards", {key_path, {}}, nullptr, ValidatorTotalDelegatorRewards},
      {"/api/v1/delegators/{key}/rewards", {key_path, {{"validator", T::kPublicKey}}}, &DelegatorRewardList(),
       DelegatorRewards},
      {"/api/v1/delegators/{key}/total-rewards", {key_path, {}}, nullptr, DelegatorTotalRewards},
      {"/api/v1/faults", {{}, {{"era", T::kInteger}, public_key}}, &FaultList(), Faults},
      {"/api/v1/steps/{era}", {era_path, {}}, nullptr, StepOfEra},
      {"/api/v1/eras", {}, &EraList(), Eras},
      {"/api/v1/eras/{era}", {era_path, {}}, nullptr, Era},
      {"/api/v1/validators", {}, &ValidatorBidList(), Validators},
      {"/api/v1/validators/{key}", {key_path, {}}, nullptr, Validator},
      {"/api/v1/delegators/{key}/delegations", {key_path, {}}, &DelegationList(), Delegations},
      {"/api/v1/withdrawals", {{}, {public_key}}, &WithdrawalList(), Withdrawals},
  };
  return kRoutes;
}

const Route* FindRoute(std::string_view pattern) {
  for (const Route& route : RouteTable()) {
    if (pattern == route.pattern) return &route;
  }
  return nullptr;
}

Response Serve(const Route& route, Runner& db, const Args& args) {
  Params params;
  if (auto invalid = CheckParams(route.params, args, params)) return BadRequest(*invalid);
  return route.run(db, Call{args, params, route.list});
}

std::optional<ParamError> ValidateRequest(const Route& route, const Args& args, const EngineOptions& options) {
  Params params;
  if (auto invalid = CheckParams(route.params, args, params)) return invalid;
  if (!route.list) return std::nullopt;
  ListParams list;
  return CheckList(*route.list, args, options, list);
}

}  // namespace ces::query::detail
