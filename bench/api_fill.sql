-- Synthetic store for the REST API benchmarks (docs/api-rest.md): 1,000,000 blocks, 5,000,000
-- transactions, 1,000,000 transfers, 1,000 eras with 100 validators and their rewards. Rows are
-- shaped like the recordings' (64-hex hashes, tagged public keys, numeric motes, ms timestamps).
-- Run on a migrated database:
--   casper-event-store migrate --postgres URI && psql URI -f bench/api_fill.sql
-- Scale with psql -v blocks=N (transactions = 5 x blocks).
\set ON_ERROR_STOP on
\if :{?blocks}
\else
  \set blocks 1000000
\endif
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';

CREATE OR REPLACE FUNCTION pg_temp.h(k text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT md5(k) || md5(k || '.') $$;
CREATE OR REPLACE FUNCTION pg_temp.validator(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT '01' || md5('v' || i) || md5('v.' || i) $$;

INSERT INTO blocks (block_hash, height, era_id, parent_hash, state_root_hash, body_hash, accumulated_seed, random_bit,
                    timestamp, proposer, protocol_version, is_switch_block, block_version, deploy_count,
                    transfer_count, transaction_count, current_gas_price, last_switch_block_hash)
SELECT pg_temp.h('b' || g), g, g / 1000, pg_temp.h('b' || (g - 1)), pg_temp.h('s' || g), pg_temp.h('y' || g),
       pg_temp.h('a' || g), g % 2 = 0,
       timestamptz '2024-01-01 00:00:00+00' + (g * interval '16384 milliseconds'),
       pg_temp.validator(g % 100), '2.0.0', g % 1000 = 999, 2, 3, 1, 5, 1, pg_temp.h('b' || ((g / 1000) * 1000 - 1))
FROM generate_series(0, :blocks - 1) g;

INSERT INTO transactions (transaction_hash, kind, status, accepted, block_hash, initiator_public_key, timestamp, ttl,
                          chain_name, pricing_mode, gas_price, payment_amount, entry_point, target, approvals_count,
                          execution_version, success, error_message, gas_limit, consumed, cost, refund, current_price,
                          size_estimate, transfer_count)
SELECT pg_temp.h('t' || g), CASE WHEN g % 5 < 3 THEN 'deploy' ELSE 'version1' END, 'processed', true,
       pg_temp.h('b' || (g / 5)), pg_temp.validator(1000 + g % 10000),
       timestamptz '2024-01-01 00:00:00+00' + ((g / 5) * interval '16384 milliseconds') - interval '5 seconds',
       interval '30 minutes', 'casper', CASE WHEN g % 5 < 3 THEN 'classic' ELSE 'fixed' END, 1,
       2500000000, CASE WHEN g % 5 = 0 THEN 'Transfer' ELSE 'call' END,
       CASE WHEN g % 5 = 0 THEN 'Native' ELSE 'Stored' END, 1, 2, g % 50 <> 0,
       CASE WHEN g % 50 = 0 THEN 'User error: 1' END, 2500000000, 100000000 + g % 1000, 2500000000, 0, 1, 300,
       CASE WHEN g % 5 = 0 THEN 1 ELSE 0 END
FROM generate_series(0, :blocks * 5 - 1) g;

INSERT INTO block_transactions (block_hash, position, transaction_hash, transaction_kind, lane, native_transfer)
SELECT pg_temp.h('b' || (g / 5)), g % 5, pg_temp.h('t' || g), CASE WHEN g % 5 < 3 THEN 'deploy' ELSE 'version1' END,
       CASE WHEN g % 5 = 0 THEN 0 ELSE 3 END, g % 5 = 0
FROM generate_series(0, :blocks * 5 - 1) g;

INSERT INTO transfers (transaction_hash, transfer_index, version, transfer_addr, block_hash, from_account_hash,
                       from_public_key, to_account_hash, source_purse, target_purse, amount, gas, transfer_id, timestamp)
SELECT pg_temp.h('t' || (g * 5)), 0, 2, NULL, pg_temp.h('b' || g), md5('acct' || (g % 10000)) || md5('x' || (g % 10000)),
       pg_temp.validator(1000 + (g * 5) % 10000), md5('acct' || ((g + 7) % 10000)) || md5('x' || ((g + 7) % 10000)),
       'uref-' || pg_temp.h('p' || g) || '-007', 'uref-' || pg_temp.h('q' || g) || '-004', 1000000000000 + g, 0, g,
       timestamptz '2024-01-01 00:00:00+00' + (g * interval '16384 milliseconds') - interval '5 seconds'
FROM generate_series(0, :blocks - 1) g;

INSERT INTO eras (era_id, first_block_height, last_block_height, last_block_hash, end_timestamp, protocol_version,
                  next_era_gas_price, rewards_status, rewards_source)
SELECT e, e * 1000, e * 1000 + 999, pg_temp.h('b' || (e * 1000 + 999)),
       timestamptz '2024-01-01 00:00:00+00' + ((e * 1000 + 999) * interval '16384 milliseconds'), '2.0.0', 1,
       'complete', 'era_end'
FROM generate_series(0, :blocks / 1000 - 1) e;

INSERT INTO era_validators (era_id, public_key, weight, is_equivocator, is_inactive)
SELECT e, pg_temp.validator(v), 5000000000000000000 + v * 1000 + e, false, v = 99
FROM generate_series(0, :blocks / 1000 - 1) e, generate_series(0, 99) v;

INSERT INTO validator_rewards (era_id, public_key, reward_index, amount, source, switch_block_hash)
SELECT e, pg_temp.validator(v), 0, 18962280550448167 + v + e, 'era_end', pg_temp.h('b' || (e * 1000 + 999))
FROM generate_series(0, :blocks / 1000 - 1) e, generate_series(0, 99) v;

INSERT INTO bids (transaction_hash, effect_index, entry_index, bid_key, kind, validator_public_key, bonding_purse,
                  staked_amount, delegation_rate, inactive, block_hash, timestamp)
SELECT pg_temp.h('t' || (v * 5 + 1)), 0, 0, 'bid-' || md5('bid' || v), 'validator', pg_temp.validator(v),
       'uref-' || pg_temp.h('bp' || v) || '-007', 5000000000000000000 + v, 10, false, pg_temp.h('b' || v),
       timestamptz '2024-01-01 00:00:00+00'
FROM generate_series(0, 99) v;

ANALYZE;
