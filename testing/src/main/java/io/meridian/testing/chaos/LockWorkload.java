package io.meridian.testing.chaos;

import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import io.meridian.api.ErrorCodes;
import io.meridian.api.v1.Compare;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.LeaseGrantRequest;
import io.meridian.api.v1.LeaseGrantResponse;
import io.meridian.api.v1.LeaseKeepAliveRequest;
import io.meridian.api.v1.LeaseKeepAliveResponse;
import io.meridian.api.v1.LockAcquireRequest;
import io.meridian.api.v1.LockAcquireResponse;
import io.meridian.api.v1.LockReleaseRequest;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RequestOp;
import io.meridian.api.v1.TxnRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Clients taking one exclusive lock in turn through every member and the router ({@link
 * Endpoints}), each on its own lease kept alive by its own renewals, doing writes fenced with their
 * token ({@code LOCK_TOKEN} compare) while they hold it, and now and then one more after releasing
 * it, which must be refused. Records the holds (with how long each holder could count on its lease)
 * and the fenced writes for {@link LockSet}.
 */
public final class LockWorkload implements Workload {
  static final String LOCK = "/locks/chaos";
  static final long TTL_SECONDS = 5;
  private static final long TTL_NANOS = TimeUnit.SECONDS.toNanos(TTL_SECONDS);

  private final Endpoints endpoints;
  private final long seed;
  private final int clients;
  private final List<LockSet.Hold> holds = new CopyOnWriteArrayList<>();
  private final List<LockSet.FencedWrite> writes = new CopyOnWriteArrayList<>();
  private final List<LeaseHonesty.Beat> leases = new CopyOnWriteArrayList<>();
  private final Clients running = new Clients("lock-client");
  private volatile long lastGrant;

  /** {@code clients} holders calling {@code endpoints}, their choices seeded from {@code seed}. */
  public LockWorkload(Endpoints endpoints, long seed, int clients) {
    this.endpoints = endpoints;
    this.seed = seed;
    this.clients = clients;
  }

  @Override
  public String name() {
    return "lock-set";
  }

  @Override
  public void start() {
    running.start(clients, this::run);
  }

  @Override
  public void stop() throws InterruptedException {
    running.stop();
  }

  @Override
  public boolean servedSince(long nanos) {
    return lastGrant > nanos;
  }

  @Override
  public int operations() {
    return holds.size() + writes.size() + leases.size();
  }

  @Override
  public List<Verdict> check(ChaosRegion region, Nemesis nemesis) {
    return List.of(LockSet.check(holds(), writes()), LeaseHonesty.check(List.copyOf(leases), null));
  }

  @Override
  public void write(Path dir) throws IOException {
    Files.write(dir.resolve("holds.txt"), holds().stream().map(Object::toString).toList());
    Files.write(dir.resolve("fenced-writes.txt"), writes().stream().map(Object::toString).toList());
    Files.write(dir.resolve("leases.txt"), leases.stream().map(Object::toString).toList());
  }

  public List<LockSet.Hold> holds() {
    return List.copyOf(holds);
  }

  public List<LockSet.FencedWrite> writes() {
    return List.copyOf(writes);
  }

  /**
   * A lease as its holder sees it: the deadline is the send time of the last renewal acknowledged
   * plus the TTL, and once a deadline passes without a renewal the lease is lost for good.
   */
  private static final class ClientLease {
    final long id;
    long deadline;
    long lostAt = Long.MAX_VALUE;

    ClientLease(long id, long sent) {
      this.id = id;
      this.deadline = sent + TTL_NANOS;
    }

    /** A renewal sent at {@code sent} was acknowledged at {@code acked}. */
    void renewed(long sent, long acked) {
      if (acked > deadline) {
        lostAt = Math.min(lostAt, deadline);
      } else {
        deadline = Math.max(deadline, sent + TTL_NANOS);
      }
    }

    /** The time the holder could no longer count on the lease, as of {@code now}. */
    long validUntil(long now) {
      return Math.min(lostAt, Math.min(deadline, now));
    }

    boolean lost(long now) {
      return lostAt != Long.MAX_VALUE || now > deadline;
    }
  }

  private void run(int client) {
    Random random = new Random(seed * 17 + client);
    ClientLease lease = null;
    long lastRenewal = 0;
    while (!running.stopped()) {
      int member = random.nextInt(endpoints.count());
      long now = System.nanoTime();
      if (lease == null || lease.lost(now)) {
        lease = grant(member);
        if (lease == null) {
          running.pause(50); // a member that is down answers at once: do not spin on it
        }
        continue;
      }
      if (now - lastRenewal > TimeUnit.SECONDS.toNanos(1)) {
        renew(member, lease);
        lastRenewal = now;
        continue;
      }
      long invoked = System.nanoTime();
      long token = acquire(member, lease);
      if (token <= 0) {
        running.pause(50);
        continue;
      }
      long granted = System.nanoTime();
      lastGrant = granted;
      fencedWrite(random.nextInt(endpoints.count()), client, token);
      running.pause(50 + random.nextInt(250));
      renew(random.nextInt(endpoints.count()), lease);
      fencedWrite(random.nextInt(endpoints.count()), client, token);
      long releasing = System.nanoTime();
      holds.add(
          new LockSet.Hold(client, lease.id, token, invoked, granted, lease.validUntil(releasing)));
      release(member, lease);
      if (random.nextInt(4) == 0) {
        // A holder that lost track of time writes with its old token: it must be refused.
        fencedWrite(random.nextInt(endpoints.count()), client, token);
      }
    }
  }

  private ClientLease grant(int member) {
    long sent = System.nanoTime();
    try {
      LeaseGrantResponse r =
          endpoints
              .lease(member)
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .grant(
                  LeaseGrantRequest.newBuilder().setNamespace("locks").setTtl(TTL_SECONDS).build());
      leases.add(beat(r.getId(), sent, LeaseHonesty.Outcome.GRANTED, r.getTtl()));
      return new ClientLease(r.getId(), sent);
    } catch (StatusRuntimeException e) {
      return null;
    }
  }

  /**
   * Renews through {@code member}, and once more through the next member if that one did not
   * answer: a holder keeps its lease through one member's pause, which is what lets a woken
   * leader's stale deadlines show.
   */
  private void renew(int member, ClientLease lease) {
    if (!renewOnce(member, lease)) {
      renewOnce((member + 1) % endpoints.count(), lease);
    }
  }

  private boolean renewOnce(int member, ClientLease lease) {
    long sent = System.nanoTime();
    try {
      LeaseKeepAliveResponse r =
          endpoints
              .lease(member)
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .renew(LeaseKeepAliveRequest.newBuilder().setId(lease.id).build());
      lease.renewed(sent, System.nanoTime());
      leases.add(beat(lease.id, sent, LeaseHonesty.Outcome.RENEWED, r.getTtl()));
      return true;
    } catch (StatusRuntimeException e) {
      ended(lease, sent, e);
      // Not renewed: the deadline stands.
      return false;
    }
  }

  /** The token of a grant, or 0 if the lock was not granted (or its answer was lost). */
  private long acquire(int member, ClientLease lease) {
    long sent = System.nanoTime();
    try {
      LockAcquireResponse r =
          endpoints
              .lock(member)
              .withDeadlineAfter(4, TimeUnit.SECONDS)
              .acquire(
                  LockAcquireRequest.newBuilder()
                      .setName(LOCK)
                      .setLease(lease.id)
                      .setTimeoutMs(2000)
                      .build());
      return r.getFencingToken();
    } catch (StatusRuntimeException e) {
      ended(lease, sent, e);
      // Perhaps granted after all: withdraw, so that the lock is not held by a client that does
      // not know it.
      release(member, lease);
      return 0;
    }
  }

  private LeaseHonesty.Beat beat(long id, long sent, LeaseHonesty.Outcome outcome, long ttl) {
    return new LeaseHonesty.Beat(
        "lease " + id, sent, System.nanoTime(), outcome, TimeUnit.SECONDS.toNanos(ttl), false);
  }

  /** A call that found the lease gone: recorded, and the client takes a new lease. */
  private void ended(ClientLease lease, long sent, StatusRuntimeException e) {
    Error error = ErrorCodes.errorOf(e);
    if (error != null && error.getCode() == Error.Code.LEASE_NOT_FOUND) {
      leases.add(beat(lease.id, sent, LeaseHonesty.Outcome.ENDED, 0));
      lease.lostAt = Math.min(lease.lostAt, sent);
    }
  }

  private void release(int member, ClientLease lease) {
    try {
      endpoints
          .lock(member)
          .withDeadlineAfter(2, TimeUnit.SECONDS)
          .release(LockReleaseRequest.newBuilder().setName(LOCK).setLease(lease.id).build());
    } catch (StatusRuntimeException e) {
      // The release may still take effect, at any later time: were the client to acquire again on
      // this lease, the lock could answer "yours already" and then the late release free it under
      // the holder's feet. So the lease is abandoned (its end releases the lock in the worst case)
      // and the client takes a new one.
      lease.lostAt = Math.min(lease.lostAt, System.nanoTime());
    }
  }

  private void fencedWrite(int member, int client, long token) {
    long invoked = System.nanoTime();
    try {
      boolean accepted =
          endpoints
              .kv(member)
              .withDeadlineAfter(2, TimeUnit.SECONDS)
              .txn(
                  TxnRequest.newBuilder()
                      .addCompare(
                          Compare.newBuilder()
                              .setKey(LOCK)
                              .setTarget(Compare.Target.LOCK_TOKEN)
                              .setResult(Compare.Result.EQUAL)
                              .setLockToken(token))
                      .addSuccess(
                          RequestOp.newBuilder()
                              .setRequestPut(
                                  PutRequest.newBuilder()
                                      .setKey("/locks/protected")
                                      .setValue(ByteString.copyFromUtf8(client + ":" + token))))
                      .build())
              .getSucceeded();
      writes.add(new LockSet.FencedWrite(client, token, invoked, accepted));
    } catch (StatusRuntimeException e) {
      // Outcome unknown: it proves nothing either way.
    }
  }
}
