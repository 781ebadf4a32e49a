package io.meridian.cluster.service;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.grpc.stub.StreamObserver;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.QueryResult;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/** Small glue between futures and gRPC observers, shared by the services. */
final class Calls {
  private Calls() {}

  /** Completes {@code observer} with the call's outcome; synchronous throws become errors too. */
  static <T> void reply(StreamObserver<T> observer, Supplier<CompletableFuture<T>> call) {
    CompletableFuture<T> future;
    try {
      future = call.get();
    } catch (RuntimeException e) {
      observer.onError(e);
      return;
    }
    future.whenComplete(
        (value, error) -> {
          if (error != null) {
            observer.onError(error);
          } else {
            observer.onNext(value);
            observer.onCompleted();
          }
        });
  }

  private static final Map<Descriptors.Descriptor, Descriptors.FieldDescriptor> HEADERS =
      new ConcurrentHashMap<>();

  /**
   * {@code response} with its {@code header} completed by {@code replica}: where and when it was
   * served (region, member, leader, Raft term). Every response message has a {@code header} field.
   */
  @SuppressWarnings("unchecked")
  static <T extends Message> T served(ShardReplica replica, T response) {
    Descriptors.FieldDescriptor field =
        HEADERS.computeIfAbsent(response.getDescriptorForType(), d -> d.findFieldByName("header"));
    ResponseHeader partial = (ResponseHeader) response.getField(field);
    return (T) response.toBuilder().setField(field, replica.header(partial)).build();
  }

  /** The result, or its error thrown as a {@link MeridianException}. */
  static CommandResult ok(CommandResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }

  static QueryResult ok(QueryResult result) {
    if (result.hasError()) {
      throw MeridianException.fromError(result.getError());
    }
    return result;
  }
}
