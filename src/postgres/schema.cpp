// The versioned schema migrations, embedded in the binary. Never edit a migration that was
// released: add a new one (the checksum of every applied migration is verified).
#include "migration_002.hpp"
#include "migration_003.hpp"
#include "migration_004.hpp"
#include "ces/postgres/migrations.hpp"

namespace ces::postgres {
namespace {

constexpr std::string_view kInitialSchema = R"sql(
-- Blocks (BlockAdded, 1.x JsonBlock and 2.x BlockV1/BlockV2).
CREATE TABLE blocks (
  block_hash             text PRIMARY KEY,
  height                 bigint NOT NULL,
  era_id                 bigint NOT NULL,
  parent_hash            text NOT NULL,
  state_root_hash        text NOT NULL,
  body_hash              text NOT NULL,
  accumulated_seed       text NOT NULL,
  random_bit             boolean,
  timestamp              timestamptz NOT NULL,
  proposer               text NOT NULL,
  protocol_version       text NOT NULL,
  is_switch_block        boolean NOT NULL,
  block_version          smallint NOT NULL,
  deploy_count           integer NOT NULL,
  transfer_count         integer NOT NULL,
  transaction_count      integer NOT NULL,
  current_gas_price      bigint,
  last_switch_block_hash text
);
CREATE INDEX blocks_height_idx ON blocks (height);
CREATE INDEX blocks_era_id_idx ON blocks (era_id);
CREATE INDEX blocks_proposer_idx ON blocks (proposer);
CREATE INDEX blocks_timestamp_idx ON blocks (timestamp);

-- The transaction hashes listed in each block, in block order.
CREATE TABLE block_transactions (
  block_hash        text NOT NULL,
  position          integer NOT NULL,
  transaction_hash  text NOT NULL,
  transaction_kind  text NOT NULL CHECK (transaction_kind IN ('deploy', 'version1')),
  lane              bigint,
  native_transfer   boolean NOT NULL,
  PRIMARY KEY (block_hash, position)
);
CREATE INDEX block_transactions_transaction_idx ON block_transactions (transaction_hash);

-- Legacy Deploys and 2.x TransactionV1, merged from Accepted, Processed and Expired events.
CREATE TABLE transactions (
  transaction_hash        text PRIMARY KEY,
  kind                    text NOT NULL CHECK (kind IN ('deploy', 'version1')),
  status                  text NOT NULL CHECK (status IN ('accepted', 'expired', 'processed')),
  accepted                boolean NOT NULL,
  block_hash              text,
  initiator_public_key    text,
  initiator_account_hash  text,
  timestamp               timestamptz,
  ttl                     interval,
  chain_name              text,
  pricing_mode            text,
  gas_price               bigint,
  gas_price_tolerance     bigint,
  payment_amount          numeric,
  entry_point             text,
  target                  text,
  target_id               text,
  approvals_count         integer,
  execution_version       smallint,
  success                 boolean,
  error_message           text,
  gas_limit               numeric,
  consumed                numeric,
  cost                    numeric,
  refund                  numeric,
  current_price           bigint,
  size_estimate           bigint,
  transfer_count          integer
);
CREATE INDEX transactions_block_hash_idx ON transactions (block_hash);
CREATE INDEX transactions_initiator_public_key_idx ON transactions (initiator_public_key);
CREATE INDEX transactions_initiator_account_hash_idx ON transactions (initiator_account_hash);
CREATE INDEX transactions_timestamp_idx ON transactions (timestamp);

-- 1.x WriteTransfer transforms; 2.x Transfer V1/V2 of execution results.
CREATE TABLE transfers (
  transaction_hash   text NOT NULL,
  transfer_index     integer NOT NULL,
  version            smallint NOT NULL,
  transfer_addr      text,
  block_hash         text NOT NULL,
  from_account_hash  text,
  from_public_key    text,
  to_account_hash    text,
  source_purse       text NOT NULL,
  target_purse       text NOT NULL,
  amount             numeric NOT NULL,
  gas                numeric NOT NULL,
  transfer_id        numeric,
  timestamp          timestamptz,
  PRIMARY KEY (transaction_hash, transfer_index)
);
CREATE INDEX transfers_block_hash_idx ON transfers (block_hash);
CREATE INDEX transfers_from_account_hash_idx ON transfers (from_account_hash);
CREATE INDEX transfers_to_account_hash_idx ON transfers (to_account_hash);

-- Eras, from switch blocks. rewards_status: NULL (era not ended), 'pending' (1.x: waiting for the
-- node RPC), 'complete'.
CREATE TABLE eras (
  era_id              bigint PRIMARY KEY,
  first_block_height  bigint,
  last_block_height   bigint,
  last_block_hash     text,
  end_timestamp       timestamptz,
  protocol_version    text,
  next_era_gas_price  bigint,
  rewards_status      text CHECK (rewards_status IN ('pending', 'complete')),
  rewards_source      text,
  rewards_attempts    integer NOT NULL DEFAULT 0,
  rewards_error       text
);
CREATE INDEX eras_rewards_pending_idx ON eras (era_id) WHERE rewards_status = 'pending';

CREATE TABLE era_validators (
  era_id             bigint NOT NULL,
  public_key         text NOT NULL,
  weight             numeric,
  is_equivocator     boolean NOT NULL DEFAULT false,
  is_inactive        boolean NOT NULL DEFAULT false,
  era_report_reward  numeric,
  PRIMARY KEY (era_id, public_key)
);
CREATE INDEX era_validators_public_key_idx ON era_validators (public_key);

CREATE TABLE validator_rewards (
  era_id             bigint NOT NULL,
  public_key         text NOT NULL,
  reward_index       integer NOT NULL,
  amount             numeric NOT NULL,
  source             text NOT NULL,
  switch_block_hash  text,
  PRIMARY KEY (era_id, public_key, reward_index)
);
CREATE INDEX validator_rewards_public_key_idx ON validator_rewards (public_key);

CREATE TABLE delegator_rewards (
  era_id                bigint NOT NULL,
  delegator_public_key  text NOT NULL,
  validator_public_key  text NOT NULL,
  amount                numeric NOT NULL,
  source                text NOT NULL,
  switch_block_hash     text,
  PRIMARY KEY (era_id, delegator_public_key, validator_public_key)
);
CREATE INDEX delegator_rewards_delegator_idx ON delegator_rewards (delegator_public_key);
CREATE INDEX delegator_rewards_validator_idx ON delegator_rewards (validator_public_key);

-- Bids and delegations written by execution effects.
CREATE TABLE bids (
  transaction_hash          text NOT NULL,
  effect_index              integer NOT NULL,
  entry_index               integer NOT NULL,
  bid_key                   text NOT NULL,
  kind                      text NOT NULL,
  validator_public_key      text,
  delegator_public_key      text,
  delegator_purse           text,
  bonding_purse             text,
  staked_amount             numeric,
  delegation_rate           bigint,
  inactive                  boolean,
  era_id                    bigint,
  new_validator_public_key  text,
  block_hash                text,
  timestamp                 timestamptz,
  PRIMARY KEY (transaction_hash, effect_index, entry_index)
);
CREATE INDEX bids_validator_idx ON bids (validator_public_key);
CREATE INDEX bids_delegator_idx ON bids (delegator_public_key);

-- Withdrawals and unbondings written by execution effects.
CREATE TABLE withdrawals (
  transaction_hash      text NOT NULL,
  effect_index          integer NOT NULL,
  entry_index           integer NOT NULL,
  withdrawal_key        text NOT NULL,
  kind                  text NOT NULL,
  validator_public_key  text,
  unbonder_public_key   text,
  unbonder_purse        text,
  bonding_purse         text,
  amount                numeric,
  era_of_creation       bigint,
  new_validator         text,
  block_hash            text,
  timestamp             timestamptz,
  PRIMARY KEY (transaction_hash, effect_index, entry_index)
);
CREATE INDEX withdrawals_validator_idx ON withdrawals (validator_public_key);
CREATE INDEX withdrawals_unbonder_idx ON withdrawals (unbonder_public_key);

CREATE TABLE faults (
  era_id      bigint NOT NULL,
  public_key  text NOT NULL,
  timestamp   timestamptz NOT NULL,
  PRIMARY KEY (era_id, public_key)
);

CREATE TABLE finality_signatures (
  block_hash       text NOT NULL,
  public_key       text NOT NULL,
  era_id           bigint NOT NULL,
  block_height     bigint,
  chain_name_hash  text,
  signature        text NOT NULL,
  version          smallint NOT NULL,
  PRIMARY KEY (block_hash, public_key)
);

CREATE TABLE steps (
  era_id        bigint PRIMARY KEY,
  effect_count  bigint NOT NULL,
  effect_bytes  bigint NOT NULL,
  format        smallint NOT NULL
);

-- Events that could not be turned into rows: identity + reason.
CREATE TABLE rejected_events (
  source           text NOT NULL,
  stream           text NOT NULL,
  event_id         bigint NOT NULL,
  topic            text NOT NULL,
  kafka_partition  integer NOT NULL,
  kafka_offset     bigint NOT NULL,
  event_type       text NOT NULL,
  api_version      text NOT NULL,
  reason           text NOT NULL,
  payload_bytes    bigint NOT NULL,
  payload_head     text NOT NULL,
  received_at      text NOT NULL,
  recorded_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, stream, event_id)
);

-- Kafka positions, written in the same transaction as the rows they produced.
CREATE TABLE consumer_positions (
  group_id         text NOT NULL,
  topic            text NOT NULL,
  kafka_partition  integer NOT NULL,
  next_offset      bigint NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, kafka_partition)
);
)sql";

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "initial schema", kInitialSchema},
      {2, kMigration002Name, kMigration002},
      {3, kMigration003Name, kMigration003},
      {4, kMigration004Name, kMigration004},
  };
  return kMigrations;
}

}  // namespace ces::postgres
