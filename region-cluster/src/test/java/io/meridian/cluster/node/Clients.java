package io.meridian.cluster.node;

import com.google.protobuf.ByteString;
import com.linecorp.armeria.client.grpc.GrpcClients;
import io.meridian.api.v1.ClusterGrpc;
import io.meridian.api.v1.KVGrpc;
import io.meridian.api.v1.LeaseGrpc;
import io.meridian.api.v1.LockGrpc;
import io.meridian.api.v1.PutRequest;
import io.meridian.api.v1.RangeRequest;
import io.meridian.api.v1.RangeResponse;
import io.meridian.api.v1.RegistryGrpc;
import io.meridian.cluster.MeridianNode;
import java.time.Duration;

/** gRPC stubs for one node of a test cluster. */
record Clients(
    KVGrpc.KVBlockingStub kv,
    LeaseGrpc.LeaseBlockingStub lease,
    LockGrpc.LockBlockingStub lock,
    ClusterGrpc.ClusterBlockingStub cluster,
    RegistryGrpc.RegistryBlockingStub registry) {

  static Clients of(MeridianNode node) {
    return of(node.clientUrl());
  }

  static Clients of(String url) {
    var builder = GrpcClients.builder(url).responseTimeout(Duration.ofSeconds(30));
    return new Clients(
        builder.build(KVGrpc.KVBlockingStub.class),
        builder.build(LeaseGrpc.LeaseBlockingStub.class),
        builder.build(LockGrpc.LockBlockingStub.class),
        builder.build(ClusterGrpc.ClusterBlockingStub.class),
        builder.build(RegistryGrpc.RegistryBlockingStub.class));
  }

  /** The Meridian error code a failed call carried in its trailer. */
  static io.meridian.api.v1.Error.Code code(Throwable t) {
    io.meridian.api.v1.Error error = io.meridian.api.ErrorCodes.errorOf(t);
    if (error == null) {
      throw new AssertionError("no Meridian error in " + t, t);
    }
    return error.getCode();
  }

  void put(String key, String value) {
    kv.put(PutRequest.newBuilder().setKey(key).setValue(ByteString.copyFromUtf8(value)).build());
  }

  RangeResponse prefix(String prefix) {
    return kv.range(RangeRequest.newBuilder().setKey(prefix).setPrefix(true).build());
  }

  /** A prefix read from this member's applied state (a standby answers only these). */
  RangeResponse localPrefix(String prefix) {
    return kv.range(
        RangeRequest.newBuilder()
            .setKey(prefix)
            .setPrefix(true)
            .setConsistency(io.meridian.api.v1.Consistency.SERIALIZABLE)
            .build());
  }
}
