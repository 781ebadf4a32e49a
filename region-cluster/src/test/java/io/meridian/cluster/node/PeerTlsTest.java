package io.meridian.cluster.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.meridian.cluster.DevCluster;
import io.meridian.cluster.config.NodeConfig;
import io.meridian.cluster.config.PeerTls;
import io.meridian.serving.tls.CertificateAuthority;
import io.meridian.serving.tls.TlsFiles;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Members talk mutual TLS on their Raft ports when {@code peer-tls} is set: members with
 * certificates from the cluster's CA form the group and replicate; a member whose certificate comes
 * from another CA is refused in both directions and never receives the log, and a caller with no
 * certificate, or another CA's, cannot complete a handshake with a peer port.
 */
@Tag("cluster")
class PeerTlsTest {
  @TempDir Path dir;

  private PeerTls issue(CertificateAuthority ca, String name) throws Exception {
    CertificateAuthority.Issued peer =
        ca.issue(name, List.of("127.0.0.1", "localhost"), Duration.ofDays(1));
    Path cert = dir.resolve(name + ".pem");
    Path key = dir.resolve(name + "-key.pem");
    Path trust = dir.resolve(name + "-ca.pem");
    peer.write(cert, key);
    ca.writeCertificate(trust);
    return new PeerTls(cert.toString(), key.toString(), trust.toString());
  }

  @Test
  void membersOfTheClusterCaReplicateAndAMemberOfAnotherCaIsShutOut() throws Exception {
    CertificateAuthority clusterCa = CertificateAuthority.create("cluster-ca", Duration.ofDays(1));
    CertificateAuthority otherCa = CertificateAuthority.create("other-ca", Duration.ofDays(1));
    PeerTls member = issue(clusterCa, "member");
    PeerTls intruder = issue(otherCa, "intruder");

    Map<String, Map<String, Object>> overrides = new HashMap<>(TestClusters.fast());
    overrides.put(
        "peer-tls",
        Map.of(
            "cert-file", member.certFile(),
            "key-file", member.keyFile(),
            "ca-file", member.caFile()));
    List<NodeConfig> configs =
        new ArrayList<>(DevCluster.plan(dir, 3, "test", overrides).configs());
    configs.set(2, withPeerTls(configs.get(2), intruder));

    try (DevCluster cluster = DevCluster.of(dir, configs).start()) {
      int leader = TestClusters.awaitReady(cluster);
      assertThat(leader)
          .as("the leader is one of the two members of the cluster's CA")
          .isLessThan(2);
      Clients.of(cluster.node(leader)).put("/tls/k", "v");
      long written = cluster.node(leader).replicas().get(0).read(s -> s.revision());
      int follower = 1 - leader;
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> cluster.node(follower).replicas().get(0).read(s -> s.revision()) >= written);
      // The intruder never gets the log: every connection between it and the others fails.
      await()
          .during(Duration.ofSeconds(3))
          .atMost(Duration.ofSeconds(10))
          .until(() -> cluster.node(2).replicas().get(0).read(s -> s.revision()) < written);

      InetSocketAddress peerPort =
          new InetSocketAddress("127.0.0.1", configs.get(leader).peer().port());
      TlsFiles memberFiles = member.load();
      TlsFiles intruderFiles = intruder.load();
      // A member's certificate completes a handshake: the refusals below are the certificates'.
      handshake(peerPort, memberFiles.keyManager(), memberFiles.trustManager());
      assertThatThrownBy(
              () -> handshake(peerPort, intruderFiles.keyManager(), memberFiles.trustManager()))
          .as("a certificate from another CA")
          .isInstanceOf(java.io.IOException.class);
      assertThatThrownBy(() -> handshake(peerPort, null, memberFiles.trustManager()))
          .as("no certificate")
          .isInstanceOf(java.io.IOException.class);
    }
  }

  /** A TLS 1.3 handshake with the peer port, then one read: the server's verdict arrives there. */
  private static void handshake(InetSocketAddress address, KeyManager key, TrustManager trust)
      throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(key == null ? null : new KeyManager[] {key}, new TrustManager[] {trust}, null);
    try (SSLSocket socket =
        (SSLSocket)
            context.getSocketFactory().createSocket(address.getHostString(), address.getPort())) {
      socket.setSoTimeout(10_000);
      socket.setEnabledProtocols(new String[] {"TLSv1.3"});
      socket.setSSLParameters(withAlpn(socket));
      socket.startHandshake();
      // In TLS 1.3 the server checks the client's certificate after the client finished: a refusal
      // comes as an alert on the first read. HTTP/2's preface makes the server answer.
      socket.getOutputStream().write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes());
      socket.getOutputStream().write(new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0});
      socket.getOutputStream().flush();
      if (socket.getInputStream().read() < 0) {
        throw new java.io.EOFException("the peer port closed the connection");
      }
    }
  }

  private static javax.net.ssl.SSLParameters withAlpn(SSLSocket socket) {
    javax.net.ssl.SSLParameters p = socket.getSSLParameters();
    p.setApplicationProtocols(new String[] {"h2"});
    return p;
  }

  private static NodeConfig withPeerTls(NodeConfig c, PeerTls peerTls) {
    return new NodeConfig(
        c.member(),
        c.region(),
        c.dataDir(),
        c.client(),
        c.peer(),
        c.members(),
        c.shards(),
        c.raft(),
        c.lease(),
        c.lock(),
        c.storage(),
        c.watch(),
        c.registry(),
        c.backup(),
        c.replication(),
        c.clusterToken(),
        c.tls(),
        peerTls);
  }
}
