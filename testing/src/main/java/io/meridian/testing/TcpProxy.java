package io.meridian.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A TCP proxy on loopback that can stop carrying bytes without closing anything: a partition as a
 * client sees it (no reset, no answer), which stopping a server cannot imitate.
 */
public final class TcpProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final ExecutorService threads = Executors.newCachedThreadPool(daemon());
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile boolean dropping;

  public TcpProxy(InetSocketAddress target) throws IOException {
    this.target = target;
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    threads.execute(this::accept);
  }

  /** The URL a client uses to reach the target through this proxy. */
  public String url() {
    return "http://127.0.0.1:" + listener.getLocalPort();
  }

  /** While true, bytes in both directions are read and thrown away. */
  public void drop(boolean drop) {
    this.dropping = drop;
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket server = new Socket(target.getAddress(), target.getPort());
        sockets.add(client);
        sockets.add(server);
        threads.execute(() -> pump(client, server));
        threads.execute(() -> pump(server, client));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void pump(Socket from, Socket to) {
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        if (!dropping) {
          out.write(buffer, 0, n);
          out.flush();
        }
      }
    } catch (IOException e) {
      // One side closed: close the other.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    sockets.forEach(TcpProxy::closeQuietly);
    threads.shutdownNow();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // nothing to do
    }
  }

  private static java.util.concurrent.ThreadFactory daemon() {
    return r -> {
      Thread t = new Thread(r, "tcp-proxy");
      t.setDaemon(true);
      return t;
    };
  }
}
