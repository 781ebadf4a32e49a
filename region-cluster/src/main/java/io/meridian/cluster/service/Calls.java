package io.meridian.cluster.service;

import com.google.protobuf.Message;
import io.meridian.api.MeridianException;
import io.meridian.cluster.node.ShardReplica;
import io.meridian.cluster.proto.CommandResult;
import io.meridian.cluster.proto.QueryResult;
import io.meridian.serving.Headers;

/** Small glue between the replicas' results and the services' answers. */
final class Calls {
  private Calls() {}

  /**
   * {@code response} with its {@code header} completed by {@code replica}: where and when it was
   * served (region, member, leader, Raft term). Every response message has a {@code header} field.
   */
  static <T extends Message> T served(ShardReplica replica, T response) {
    return Headers.with(response, replica::header);
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
