package io.meridian.ctl;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.ShardHeader;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.EpochStart;
import io.meridian.api.v1.Error;
import io.meridian.api.v1.Operation;
import io.meridian.api.v1.RecordOperationResponse;
import io.meridian.api.v1.ResetFromSnapshotResponse;
import io.meridian.api.v1.Role;
import io.meridian.api.v1.SetRoleRequest;
import io.meridian.api.v1.ShardStatus;
import io.meridian.api.v1.SnapshotChunk;
import io.meridian.api.v1.SnapshotStreamRequest;
import io.meridian.api.v1.StatusRequest;
import io.meridian.client.Stubs;
import io.meridian.router.RoutingTable;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code meridianctl rejoin}: turns a region that was a shard's primary before a failover into a
 * standby of the new primary: fences it, writes the revisions it committed that the new primary
 * never received to a file, resets it from the new primary's snapshot, and lets the bridge's sink
 * bring it up to date.
 */
@Command(
    name = "rejoin",
    mixinStandardHelpOptions = true,
    description = {
      "Makes region --region, a shard's old primary, a STANDBY of the shard's current PRIMARY"
          + " again. --endpoints names the routers.",
      "Steps: inspect (both regions' epoch histories), fence (the old region commits FENCED at the"
          + " current epoch), divergence (the revisions it has that the new primary never received"
          + " are written to --tail-file, one change batch per line as JSON: keys, values, leases),"
          + " reset (its state is replaced by the new primary's snapshot, through its log: it is a"
          + " STANDBY), route (the routers list it as a STANDBY), catch-up (the bridge's sink"
          + " applies what the new primary committed since), notify.",
      "Nothing is dropped silently: the reset starts only once the divergent revisions are on"
          + " disk. Recorded in the current primary's cluster like failover: a rerun resumes.",
      "Asks for confirmation on a terminal; --yes runs unattended."
    })
final class RejoinCommand implements Callable<Integer> {
  static final int STEPS = 7;

  @ParentCommand Meridianctl root;
  @Spec CommandSpec spec;

  @Option(
      names = "--region",
      required = true,
      paramLabel = "REGION",
      description = "The old primary region to turn into a standby.")
  String region;

  @Option(
      names = "--tail-file",
      paramLabel = "FILE",
      description =
          "Where the divergent revisions go (default: rejoin-<shard>-<region>-<time>.jsonl in the"
              + " working directory).")
  Path tailFile;

  @Option(
      names = "--catch-up-timeout",
      paramLabel = "DURATION",
      converter = Durations.class,
      description =
          "How long the region may take to apply what the new primary committed since its"
              + " snapshot (default: 120s).")
  Duration catchUpTimeout = Duration.ofSeconds(120);

  @Option(names = "--yes", description = "Do not ask for confirmation.")
  boolean yes;

  @Override
  public Integer call() {
    Integer shardOption = root.shard();
    if (shardOption == null) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "--shard: required (expected: the shard to rejoin)");
    }
    int shard = shardOption;
    PrintWriter out = spec.commandLine().getOut();
    ShardRegions regions = ShardRegions.of(root.endpoints(), shard, root.timeout(), root.factory());
    RoutingTable.Region primary = regions.described().primary();
    RoutingTable.Region old = regions.region(region);
    RegionOperation.require(
        !primary.region().equals(old.region()),
        "region %s is shard %d's PRIMARY (expected: the old primary, now FENCED)",
        old.region(),
        shard);
    ShardStatus now = status(regions, primary);
    long epoch = now.getHeader().getEpoch();
    RecordOperationResponse record = RegionOperation.read(regions, primary);
    Operation open = record.hasOpen() ? record.getOpen() : null;
    if (open == null && old.role() == Role.STANDBY) {
      out.println("shard " + shard + ": " + old.region() + " is a STANDBY already: nothing to do");
      out.flush();
      return 0;
    }
    Confirmation.require(
        root,
        spec,
        yes,
        "reset shard "
            + shard
            + " in "
            + old.region()
            + " from "
            + primary.region()
            + "'s snapshot (its divergent revisions are written to a file first)");
    Operation wanted =
        Operation.newBuilder()
            .setKind("rejoin")
            .setFromRegion(primary.region())
            .setToRegion(old.region())
            .setEpoch(epoch)
            .build();
    long started = System.nanoTime();
    try (RegionOperation op = RegionOperation.begin(regions, primary, wanted, STEPS, out)) {
      long e = op.operation().getEpoch();
      op.step(
          "inspect",
          () -> {
            ShardStatus was = status(regions, old);
            ShardStatus is = status(regions, primary);
            long fork =
                DivergentTail.fork(
                    was.getEpochHistoryList(),
                    was.getHeader().getRevision(),
                    is.getEpochHistoryList(),
                    is.getHeader().getRevision());
            return new RegionOperation.Done(
                old.region()
                    + " is "
                    + was.getHeader().getRole()
                    + " at epoch "
                    + was.getHeader().getEpoch()
                    + ", revision "
                    + was.getHeader().getRevision()
                    + "; "
                    + primary.region()
                    + " is PRIMARY at epoch "
                    + is.getHeader().getEpoch()
                    + ", revision "
                    + is.getHeader().getRevision()
                    + "; their histories part after revision "
                    + fork,
                Map.of(
                    "old_revision",
                    Long.toString(was.getHeader().getRevision()),
                    "fork",
                    Long.toString(fork)));
          });
      op.step(
          "fence",
          () -> {
            ShardStatus was = status(regions, old);
            if (was.getHeader().getRole() == Role.FENCED && was.getHeader().getEpoch() >= e) {
              return new RegionOperation.Done(
                  old.region() + " is FENCED at epoch " + was.getHeader().getEpoch() + " already");
            }
            regions.setRole(
                old, SetRoleRequest.newBuilder().setRole(Role.FENCED).setEpoch(e).build());
            return new RegionOperation.Done(old.region() + " committed FENCED at epoch " + e);
          });
      op.step("divergence", () -> divergence(regions, old, primary, op, shard));
      op.step("reset", () -> reset(regions, primary, old));
      op.step(
          "route",
          () -> {
            Map<String, Role> roles = new LinkedHashMap<>();
            roles.put(old.region(), Role.STANDBY);
            RoutingTable next = regions.next(roles, e);
            return new RegionOperation.Done(
                "routing table version "
                    + next.version()
                    + " ("
                    + old.region()
                    + " is a STANDBY): "
                    + String.join("; ", regions.apply(next)));
          });
      op.step("catch-up", () -> catchUp(regions, primary, old));
      op.step(
          "notify",
          () ->
              new RegionOperation.Done(
                  "rejoin of shard "
                      + shard
                      + " in "
                      + old.region()
                      + " done in "
                      + (System.nanoTime() - started) / 1_000_000
                      + " ms"
                      + (op.fact("tail_file") == null
                          ? ""
                          : "; divergent revisions in " + op.fact("tail_file"))));
      op.finish("done");
    }
    return 0;
  }

  private RegionOperation.Done divergence(
      ShardRegions regions,
      RoutingTable.Region old,
      RoutingTable.Region primary,
      RegionOperation op,
      int shard) {
    ShardStatus was = status(regions, old);
    ShardStatus is = status(regions, primary);
    List<EpochStart> oldHistory = was.getEpochHistoryList();
    long oldRevision = was.getHeader().getRevision();
    long fork = Long.parseLong(op.fact("fork"));
    if (fork > 0) {
      Optional<ByteString> a = DivergentTail.chainHash(regions, old, oldHistory, fork);
      Optional<ByteString> b =
          DivergentTail.chainHash(regions, primary, is.getEpochHistoryList(), fork);
      if (a.isPresent() && b.isPresent() && !a.get().equals(b.get())) {
        throw MeridianException.of(
            Error.Code.CHAIN_MISMATCH,
            "%s and %s have different histories at revision %d although their epoch histories"
                + " agree there: the region was not a primary of this shard's federation",
            old.region(),
            primary.region(),
            fork);
      }
    }
    if (oldRevision <= fork) {
      return new RegionOperation.Done(
          old.region()
              + " has no revision the new primary lacks (it stops at revision "
              + oldRevision
              + ")");
    }
    Path file =
        tailFile != null
            ? tailFile
            : Path.of(
                "rejoin-"
                    + shard
                    + "-"
                    + old.region()
                    + "-"
                    + Instant.now().toString().replace(":", "")
                    + ".jsonl");
    DivergentTail.Written w =
        DivergentTail.write(regions, old, oldHistory, fork, oldRevision, file);
    return new RegionOperation.Done(
        "revisions "
            + w.from()
            + ".."
            + w.to()
            + " ("
            + w.batches()
            + " batches) that "
            + primary.region()
            + " never received are in "
            + file.toAbsolutePath()
            + " (sha256 "
            + w.sha256()
            + ")",
        Map.of(
            "tail_file",
            file.toAbsolutePath().toString(),
            "tail_from",
            Long.toString(w.from()),
            "tail_to",
            Long.toString(w.to()),
            "tail_sha256",
            w.sha256()));
  }

  /** Streams the primary's snapshot into the old region's reset. */
  private RegionOperation.Done reset(
      ShardRegions regions, RoutingTable.Region primary, RoutingTable.Region old) {
    MeridianException last = null;
    for (URI source : primary.endpoints()) {
      Context.CancellableContext streaming = Context.current().withCancellation();
      try {
        ResetFromSnapshotResponse r = streaming.call(() -> pipe(regions, source, old));
        return new RegionOperation.Done(
            old.region()
                + " reset from "
                + primary.region()
                + "'s snapshot at revision "
                + r.getManifest().getRevision()
                + " ("
                + r.getManifest().getKeys()
                + " keys, "
                + r.getManifest().getBodyBytes()
                + " bytes): "
                + r.getHeader().getRole()
                + " at epoch "
                + r.getHeader().getEpoch());
      } catch (MeridianException e) {
        last = e;
        if (e.code() != Error.Code.UNAVAILABLE) {
          throw e;
        }
      } catch (Exception e) {
        throw MeridianException.causeOf(e) instanceof MeridianException m
            ? m
            : MeridianException.of(Error.Code.INTERNAL, "%s", e.toString());
      } finally {
        streaming.cancel(null);
      }
    }
    throw last != null
        ? last
        : MeridianException.of(
            Error.Code.UNAVAILABLE, "region %s has no endpoints", primary.region());
  }

  private ResetFromSnapshotResponse pipe(ShardRegions regions, URI source, RoutingTable.Region old)
      throws Exception {
    // A member of the old region that answers takes the stream: it proposes the parts through its
    // cluster's log.
    URI target = answering(regions, old);
    Iterator<SnapshotChunk> chunks =
        GrpcClients.builder(source.toString())
            .factory(regions.factory)
            .responseTimeout(Duration.ofMinutes(30))
            .addHeader(ShardHeader.NAME, Integer.toString(regions.shard))
            .build(ClusterGrpc.ClusterBlockingStub.class)
            .snapshotStream(SnapshotStreamRequest.getDefaultInstance());
    CompletableFuture<ResetFromSnapshotResponse> done = new CompletableFuture<>();
    @SuppressWarnings("unchecked")
    ClientCallStreamObserver<SnapshotChunk>[] call = new ClientCallStreamObserver[1];
    io.grpc.stub.StreamObserver<SnapshotChunk> upload =
        GrpcClients.builder(target.toString())
            .factory(regions.factory)
            .responseTimeout(Duration.ofMinutes(30))
            .addHeader(ShardHeader.NAME, Integer.toString(regions.shard))
            .build(ClusterGrpc.ClusterStub.class)
            .resetFromSnapshot(
                new ClientResponseObserver<SnapshotChunk, ResetFromSnapshotResponse>() {
                  @Override
                  public void beforeStart(ClientCallStreamObserver<SnapshotChunk> stream) {
                    call[0] = stream;
                  }

                  @Override
                  public void onNext(ResetFromSnapshotResponse r) {
                    done.complete(r);
                  }

                  @Override
                  public void onError(Throwable t) {
                    done.completeExceptionally(t);
                  }

                  @Override
                  public void onCompleted() {}
                });
    try {
      while (chunks.hasNext() && !done.isDone()) {
        // At the pace the member reads: the body is not held here whole.
        while (!call[0].isReady() && !done.isDone()) {
          Thread.sleep(1);
        }
        if (!done.isDone()) {
          upload.onNext(chunks.next());
        }
      }
      upload.onCompleted();
      return done.get(30, TimeUnit.MINUTES);
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof StatusRuntimeException s
          ? Stubs.failure(s)
          : MeridianException.of(Error.Code.INTERNAL, "%s", e.getCause().toString());
    } catch (StatusRuntimeException e) {
      throw Stubs.failure(e);
    }
  }

  /** The first member of {@code r} that answers a status call. */
  private static URI answering(ShardRegions regions, RoutingTable.Region r) {
    for (URI endpoint : r.endpoints()) {
      try {
        regions.cluster(
            new RoutingTable.Region(r.region(), r.role(), r.epoch(), List.of(endpoint)),
            s -> s.status(StatusRequest.getDefaultInstance()));
        return endpoint;
      } catch (MeridianException e) {
        // The next one.
      }
    }
    throw MeridianException.of(Error.Code.UNAVAILABLE, "region %s: no member answers", r.region());
  }

  private RegionOperation.Done catchUp(
      ShardRegions regions, RoutingTable.Region primary, RoutingTable.Region old) {
    long head = status(regions, primary).getHeader().getRevision();
    long deadline = System.nanoTime() + catchUpTimeout.toNanos();
    while (true) {
      long applied = regions.replication(old, root.timeout()).getState().getRevision();
      if (applied >= head) {
        return new RegionOperation.Done(
            old.region()
                + " applied through revision "
                + applied
                + " ("
                + primary.region()
                + " was at "
                + head
                + ")");
      }
      if (System.nanoTime() > deadline) {
        throw MeridianException.of(
            Error.Code.DEADLINE_EXCEEDED,
            "%s applied through revision %d of %d within %d ms: is a bridge sink applying to it?"
                + " (a bridge with the shard's regions listed follows roles by itself; one with"
                + " source/sinks needs %s added under sinks)",
            old.region(),
            applied,
            head,
            catchUpTimeout.toMillis(),
            old.region());
      }
      RegionMove.pause(Duration.ofMillis(200));
    }
  }

  private static ShardStatus status(ShardRegions regions, RoutingTable.Region r) {
    return regions
        .cluster(r, s -> s.status(StatusRequest.getDefaultInstance()))
        .getShardsList()
        .stream()
        .filter(s -> s.getHeader().getShard() == regions.shard)
        .findFirst()
        .orElseThrow(
            () ->
                MeridianException.of(
                    Error.Code.NOT_FOUND,
                    "region %s does not serve shard %d",
                    r.region(),
                    regions.shard));
  }
}
