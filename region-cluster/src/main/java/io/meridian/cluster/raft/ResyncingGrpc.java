package io.meridian.cluster.raft;

import io.meridian.cluster.config.PeerTls;
import io.meridian.serving.tls.TlsFiles;
import org.apache.ratis.RaftConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.apache.ratis.rpc.RpcFactory;
import org.apache.ratis.rpc.RpcType;
import org.apache.ratis.thirdparty.io.netty.handler.ssl.SslProvider;

/**
 * The RPC type that gives Ratis's gRPC transport our corrected log appender ({@link
 * ResyncingLogAppender}). Ratis instantiates it by class name from {@code raft.rpc.type}, so it
 * needs a public no-argument constructor.
 */
public final class ResyncingGrpc implements RpcType {
  public ResyncingGrpc() {}

  /** Selects this RPC type for servers and clients built from {@code properties}. */
  public static void select(RaftProperties properties) {
    // setType stores name(): the class name, so that Ratis loads this type and not stock gRPC.
    RaftConfigKeys.Rpc.setType(properties, new ResyncingGrpc());
  }

  /**
   * The parameters servers and clients of this RPC type are built with: mutual TLS between members
   * when {@code peerTls} is set (each presents its certificate, as server and as client, and
   * refuses a peer whose certificate does not chain to the CA), nothing otherwise. Renewed files
   * are used by the next connection.
   *
   * @throws IllegalArgumentException naming a file that cannot be read
   */
  public static Parameters parameters(PeerTls peerTls) {
    Parameters parameters = new Parameters();
    if (peerTls.enabled()) {
      TlsFiles files = peerTls.load();
      GrpcConfigKeys.TLS.setConf(
          parameters,
          GrpcTlsConfig.newBuilder()
              .setKeyManager(files.keyManager())
              .setTrustManager(files.trustManager())
              .setMutualTls(true)
              // The JDK's TLS, whose key managers these are (Ratis would otherwise pick the
              // BoringSSL engine it bundles).
              .setSslProvider(SslProvider.JDK)
              .build());
    }
    return parameters;
  }

  @Override
  public String name() {
    return ResyncingGrpc.class.getName();
  }

  @Override
  public RpcFactory newFactory(Parameters parameters) {
    return new ResyncingGrpcFactory(parameters);
  }
}
