package io.meridian.cluster.node;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Parser;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import io.meridian.cluster.proto.Command;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.raft.RatisMessages;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How one replica reaches its shard's Raft group: its own Raft server, directly, while it leads;
 * the leader through Ratis's clients otherwise. Replies are parsed here into results, and Ratis's
 * failures into {@code UNAVAILABLE}.
 */
final class RaftCalls implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RaftCalls.class);

  private final int shard;
  private final String region;
  private final String member;
  private final RaftServer server;
  private final RaftGroupId groupId;
  private final Supplier<RaftClient> newClient;
  // Replaced when Ratis closes it: an ordered-async client whose request ran out of retries stays
  // closed for every later request (AlreadyClosedException).
  private final AtomicReference<RaftClient> client;
  // Reads sent to other members have their own client: on a failed request the Ratis client drops
  // its connection to the leader and fails everything in flight on it, and a slow read must not
  // take this member's writes down with it.
  private final AtomicReference<RaftClient> readClient;
  // Reads this member submits to its own Raft server while it leads (no client, no network hop).
  private final ClientId localReads = ClientId.randomId();
  private final AtomicLong localCallIds = new AtomicLong();
  private final ExecutorService localThreads;

  RaftCalls(
      int shard,
      String region,
      String member,
      RaftServer server,
      RaftGroupId groupId,
      Supplier<RaftClient> newClient) {
    this.shard = shard;
    this.region = region;
    this.member = member;
    this.server = server;
    this.groupId = groupId;
    this.newClient = newClient;
    this.client = new AtomicReference<>(newClient.get());
    this.readClient = new AtomicReference<>(newClient.get());
    this.localThreads =
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "meridian-reads-" + member + "-shard-" + shard);
              t.setDaemon(true);
              return t;
            });
  }

  RaftServer server() {
    return server;
  }

  RaftGroupId groupId() {
    return groupId;
  }

  /** This node's Raft view of the shard, or null if its division is gone. */
  DivisionInfo info() {
    try {
      return server.getDivision(groupId).getInfo();
    } catch (IOException e) {
      return null;
    }
  }

  /** This member leads the shard now, as far as its Raft server knows. */
  boolean leadingNow() {
    DivisionInfo info = info();
    return info != null && info.isLeader();
  }

  /** A call id for a request this member makes of its own Raft server. */
  long nextCallId() {
    return localCallIds.incrementAndGet();
  }

  /**
   * Where replies of this member's own server are handled, and reads answered off the apply thread:
   * Ratis completes local requests on its own threads (the apply thread, for a confirmed read),
   * where a continuation must not run.
   */
  Executor localThreads() {
    return localThreads;
  }

  /**
   * Submits a request to this member's own Raft server, as any client's request is answered,
   * without a loopback connection whose failure handling would drop every request on it. Both ends
   * run on {@link #localThreads}, as the gRPC server's executor would: submitting blocks until Raft
   * accepts the request.
   */
  CompletableFuture<RaftClientReply> submitHere(
      ClientId clientId, Message message, RaftClientRequest.Type type) {
    RaftClientRequest request =
        RaftClientRequest.newBuilder()
            .setClientId(clientId)
            .setServerId(server.getId())
            .setGroupId(groupId)
            .setCallId(nextCallId())
            .setMessage(message)
            .setType(type)
            .build();
    return CompletableFuture.supplyAsync(
            () -> {
              try {
                return server.submitClientRequestAsync(request);
              } catch (IOException e) {
                throw new CompletionException(e);
              }
            },
            localThreads)
        .thenCompose(reply -> reply.whenCompleteAsync((r, t) -> {}, localThreads));
  }

  /** A read submitted to this member's own Raft server (see {@link #submitHere}). */
  CompletableFuture<RaftClientReply> readHere(Message message) {
    return submitHere(localReads, message, RaftClientRequest.readRequestType());
  }

  /**
   * Sends a read through the read client: to {@code member}, or where the client sees the leader.
   */
  CompletableFuture<RaftClientReply> readThere(Message message, RaftPeerId member) {
    RaftClient raft = readClient.get();
    CompletableFuture<RaftClientReply> sent =
        member == null
            ? raft.async().sendReadOnlyUnordered(message)
            : raft.async().sendReadOnlyUnordered(message, member);
    return sent.whenComplete(
        (r, t) -> {
          if (t != null) {
            replaceIfClosed(readClient, raft, t);
          }
        });
  }

  /** Sends an entry through the Raft client, which finds the leader and retries for us. */
  CompletableFuture<CommandResult> forward(Command entry) {
    RaftClient raft = client.get();
    CompletableFuture<RaftClientReply> sent;
    try {
      sent = raft.async().send(RatisMessages.toMessage(entry));
    } catch (RuntimeException e) {
      sent = CompletableFuture.failedFuture(e);
    }
    return sent.whenComplete(
            (reply, t) -> {
              if (t != null) {
                replaceIfClosed(client, raft, t);
              }
            })
        .thenApply(reply -> parse(reply, CommandResult.parser()));
  }

  /** Swaps in a new Raft client when {@code failed} was closed under us (once per client). */
  private void replaceIfClosed(AtomicReference<RaftClient> holder, RaftClient failed, Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof AlreadyClosedException) {
        RaftClient fresh = newClient.get();
        if (holder.compareAndSet(failed, fresh)) {
          log.warn(
              "shard={} region={} member={} Raft client was closed ({}); replaced it",
              shard,
              region,
              member,
              c.getMessage());
          closeQuietly(failed, "the old Raft client");
        } else {
          closeQuietly(fresh, "an unused Raft client");
        }
        return;
      }
    }
  }

  private static void closeQuietly(RaftClient raft, String what) {
    try {
      raft.close();
    } catch (IOException | RuntimeException e) {
      log.debug("closing {}", what, e);
    }
  }

  /**
   * Closes the current Raft client for writes, as Ratis does after a request ran out of retries
   * (tests).
   */
  void closeWriteClient() throws IOException {
    client.get().close();
  }

  /** The reply's message, parsed; an unsuccessful reply is UNAVAILABLE. */
  static <T> T parse(RaftClientReply reply, Parser<T> parser) {
    if (!reply.isSuccess()) {
      throw MeridianException.of(
          Error.Code.UNAVAILABLE, "shard unavailable: %s", String.valueOf(reply.getException()));
    }
    try {
      return RatisMessages.parse(parser, reply.getMessage());
    } catch (InvalidProtocolBufferException e) {
      throw MeridianException.of(Error.Code.INTERNAL, "malformed reply: %s", e.getMessage());
    }
  }

  /** {@code t} as a Meridian error: itself if it is one, else UNAVAILABLE naming the cause. */
  static MeridianException unavailable(Throwable t) {
    Throwable cause = MeridianException.causeOf(t);
    if (cause instanceof MeridianException m) {
      return m;
    }
    return MeridianException.of(
        Error.Code.UNAVAILABLE,
        "shard unavailable (no leader reachable, retry): %s",
        cause.getClass().getSimpleName() + ": " + cause.getMessage());
  }

  @Override
  public void close() throws IOException {
    client.get().close();
    readClient.get().close();
    localThreads.shutdownNow();
  }
}
