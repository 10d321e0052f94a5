#pragma once
// Private to ces::query: the model's JSON shapes — which columns each resource reads and under which
// JSON names, and for each list its order_by whitelist, keyset key and time column. Data only: the
// parameters are validated by params.cpp, the SQL is written by runner.cpp and routes.cpp.

#include <string>
#include <vector>

namespace ces::query::detail {

// How a column's PostgreSQL text becomes JSON. The Java store's entities (Block, Deploy, Transfer,
// EraValidator, ValidatorReward, DelegatorReward) render as its Jackson did: amounts (BigInteger) as
// JSON numbers with every digit (kNumber: PostgreSQL's digits written as they are, never through a
// double), dates as Jackson's default "2022-10-12T11:18:39.000+00:00" (kJavaTime) except the Block's
// custom ISO serializer ("…Z", kTime). This store's own resources keep amounts as strings (kNum).
enum class Kind { kText, kInt, kNum, kNumber, kTime, kJavaTime, kBool, kRaw };

struct Col {
  const char* json;
  const char* sql;
  Kind kind;
};

struct Order {
  const char* name;
  const char* sql;  // nullptr: the keyset order (key[0])
};

struct KeyPart {
  const char* sql;
  const char* cast;  // "timestamptz", "bigint", "integer", "text"
};

struct ListSpec {
  const char* from;
  std::vector<Col> cols;
  std::vector<Order> orders;  // order_by whitelist
  const char* default_order;
  std::vector<KeyPart> key;   // keyset key (unique); also the tie-break of every order
  const char* time_col = nullptr;
  const char* default_dir = "DESC";
};

// Objects.
const std::vector<Col>& BlockCols();
const std::vector<Col>& DeployCols();        // the Java store's deploy shape
const std::vector<Col>& TransactionCols();
const std::vector<Col>& EraCols();
const std::vector<Col>& StepCols();
const std::vector<Col>& ValidatorBidCols();  // over kLatestValidatorBids
const std::vector<Col>& DelegationCols();    // over LatestDelegations(…)

// Lists.
const ListSpec& BlockList();
const ListSpec& DeployList();
const ListSpec& TransactionList();
const ListSpec& TransferList();
const ListSpec& EraValidatorList();
const ListSpec& ValidatorRewardList();
const ListSpec& DelegatorRewardList();
const ListSpec& FaultList();
const ListSpec& SignatureList();
const ListSpec& EraList();
const ListSpec& ValidatorBidList();
const ListSpec& DelegationList();  // a delegator's delegations: its first SQL parameter ($1) is the delegator
const ListSpec& WithdrawalList();
const ListSpec& BlockTransactionList();

// The latest bid row per validator (current stake), as a FROM item "vb".
extern const char* const kLatestValidatorBids;
// The latest delegation row per (delegator, validator) matching `where`, as a FROM item "d".
std::string LatestDelegations(const std::string& where);

}  // namespace ces::query::detail
