// Keeps the MongoDB replica set of the mongo-events StatefulSet in shape.
// Run by the replset sidecar of every member (mongosh --nodb), every few
// seconds; every step is idempotent.
//
//  - This member is not in a replica set yet:
//      * a peer already belongs to the set      -> wait: the primary adds this
//        member (a member whose disk was lost is re-synced by the set, it never
//        starts a second replica set);
//      * member 0, every peer answers and none is initialised (fresh install)
//                                                -> rs.initiate() with itself, then the
//        users (first one through the localhost exception) and the majority default
//        write concern;
//      * otherwise                               -> wait.
//  - This member is the primary: add the missing StatefulSet members as
//    non-voting (priority 0, votes 0), give them their vote once SECONDARY
//    (MongoDB's advice for adding members), remove members beyond the replica
//    count (scale down), keep users and the default write concern as configured.
//  - Writes /tmp/replset-ok while this member is PRIMARY or SECONDARY (sidecar
//    readiness) and /tmp/replset-heartbeat on every run (sidecar liveness).
const env = process.env;
const fs = require('fs');
const rsName = env.MONGO_REPLICA_SET;
const replicas = parseInt(env.MONGO_REPLICAS, 10);
const m = env.POD_NAME.match(/^(.*)-(\d+)$/);
const sts = m[1];
const ordinal = parseInt(m[2], 10);
const hostOf = (i) => `${sts}-${i}.${env.MONGO_SERVICE}.${env.POD_NAMESPACE}.svc.${env.CLUSTER_DOMAIN}:27017`;
const me = hostOf(ordinal);
const opts = 'directConnection=true&serverSelectionTimeoutMS=3000&connectTimeoutMS=3000&tls=true&tlsCAFile=/keyfile/ca.crt';

function log(msg) { print(`${new Date().toISOString()} replset ${env.POD_NAME}: ${msg}`); }
function touch(path) { fs.writeFileSync(path, new Date().toISOString()); }
function hello(host) {
  try {
    const c = new Mongo(`mongodb://${host}/?${opts}`);
    const h = c.getDB('admin').runCommand({ hello: 1 });
    return { conn: c, hello: h };
  } catch (e) {
    return null;
  }
}
function admin(conn) { return conn.getDB('admin'); }
function authenticate(conn) {
  try { return admin(conn).auth(env.MONGO_ROOT_USERNAME, env.MONGO_ROOT_PASSWORD).ok === 1; } catch (e) { return false; }
}

function ensureUser(db, user, pwd, roles) {
  if (db.getUser(user) === null) {
    db.createUser({ user: user, pwd: pwd, roles: roles });
    log(`user ${user} created`);
  } else {
    db.updateUser(user, { pwd: pwd, roles: roles });
  }
}

function ensureUsersAndDefaults(conn) {
  const a = admin(conn);
  if (!authenticate(conn)) {
    // no user yet: the localhost exception allows creating the first one
    a.createUser({ user: env.MONGO_ROOT_USERNAME, pwd: env.MONGO_ROOT_PASSWORD, roles: ['root'] });
    log('root user created');
    if (!authenticate(conn)) throw new Error('cannot authenticate as the root user');
  }
  const dbName = env.MONGO_DATABASE;
  ensureUser(a, env.MONGO_AUDIT_USERNAME, env.MONGO_AUDIT_PASSWORD, [{ role: 'readWrite', db: dbName }]);
  ensureUser(a, env.MONGO_API_USERNAME, env.MONGO_API_PASSWORD, [{ role: 'read', db: dbName }]);
  ensureUser(a, env.MONGO_BACKUP_USERNAME, env.MONGO_BACKUP_PASSWORD, ['backup', 'clusterMonitor']);
  const current = a.runCommand({ getDefaultRWConcern: 1 });
  const w = current.defaultWriteConcern && current.defaultWriteConcern.w;
  if (w !== 'majority') {
    a.runCommand({ setDefaultRWConcern: 1, defaultWriteConcern: { w: 'majority' } });
    log('default write concern set to majority');
  }
}

function reconcileMembers(conn) {
  const a = admin(conn);
  const cfg = a.runCommand({ replSetGetConfig: 1 }).config;
  const status = a.runCommand({ replSetGetStatus: 1 });
  const stateOf = {};
  status.members.forEach((mem) => { stateOf[mem.name] = mem.stateStr; });
  // one change per reconfiguration: MongoDB accepts a single voting change at a time
  const change = (why) => {
    cfg.version += 1;
    const r = a.runCommand({ replSetReconfig: cfg });
    if (r.ok !== 1) throw new Error(`replSetReconfig (${why}): ${JSON.stringify(r)}`);
    log(why);
  };
  // scale down: drop one member beyond the replica count (never this member)
  const extra = cfg.members.find((mem) => {
    const mm = mem.host.match(/-(\d+)\./);
    return mm && parseInt(mm[1], 10) >= replicas && mem.host !== me;
  });
  if (extra) {
    cfg.members = cfg.members.filter((mem) => mem !== extra);
    change(`${extra.host} removed (beyond ${replicas} members)`);
    return;
  }
  // grant the vote to a caught-up member
  const caughtUp = cfg.members.find((mem) => mem.votes === 0 && stateOf[mem.host] === 'SECONDARY');
  if (caughtUp) {
    caughtUp.votes = 1;
    caughtUp.priority = 1;
    change(`${caughtUp.host} is SECONDARY: it gets a vote`);
    return;
  }
  // add missing members, one at a time, without a vote until they caught up
  const present = new Set(cfg.members.map((mem) => mem.host));
  for (let i = 0; i < replicas; i++) {
    const host = hostOf(i);
    if (present.has(host)) continue;
    if (hello(host) === null) continue; // not up yet
    const id = Math.max(...cfg.members.map((mem) => mem._id)) + 1;
    cfg.members.push({ _id: id, host: host, priority: 0, votes: 0 });
    change(`${host} added (non-voting until SECONDARY)`);
    return;
  }
}

function main() {
  touch('/tmp/replset-heartbeat');
  const local = hello('localhost:27017');
  if (local === null) { log('local mongod not answering yet'); return; }
  const h = local.hello;
  if (h.setName) {
    if (h.isWritablePrimary || h.secondary) touch('/tmp/replset-ok');
    if (h.isWritablePrimary) {
      ensureUsersAndDefaults(local.conn);
      reconcileMembers(local.conn);
    }
    return;
  }
  try { fs.unlinkSync('/tmp/replset-ok'); } catch (e) { /* absent */ }
  // not initialised: look at the peers
  let allUp = true;
  for (let i = 0; i < replicas; i++) {
    if (i === ordinal) continue;
    const peer = hello(hostOf(i));
    if (peer === null) { allUp = false; continue; }
    if (peer.hello.setName) { log(`replica set ${peer.hello.setName} exists (seen on ${hostOf(i)}): waiting to be added by its primary`); return; }
  }
  if (ordinal !== 0) { log('waiting for member 0 to initiate the replica set'); return; }
  if (!allUp) { log('fresh member 0, but not every peer answers yet: waiting before initiating'); return; }
  log(`initiating replica set ${rsName} with ${me}`);
  const r = admin(local.conn).runCommand({ replSetInitiate: { _id: rsName, members: [{ _id: 0, host: me, priority: 2 }] } });
  if (r.ok !== 1 && r.codeName !== 'AlreadyInitialized') throw new Error(`replSetInitiate: ${JSON.stringify(r)}`);
  for (let i = 0; i < 60; i++) {
    if (admin(local.conn).runCommand({ hello: 1 }).isWritablePrimary) break;
    sleep(1000);
  }
  ensureUsersAndDefaults(local.conn);
  touch('/tmp/replset-ok');
}

try {
  main();
} catch (e) {
  log(`error: ${e.message}`);
  quit(1);
}
