package io.meridian.cluster.service;

import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import io.meridian.api.MeridianException;
import io.meridian.api.v1.ResponseHeader;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.QueryResult;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Small glue between the replicas' results and the services' answers. */
final class Calls {
  private Calls() {}

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
