package io.meridian.serving.tls;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Checks peers against the CA certificates a {@link TlsFiles} last read, through the JDK's own PKIX
 * trust manager (rebuilt when the CA file changed), so chain validation and the host name checks
 * the TLS stack asks for stay the JDK's.
 */
final class FilesTrustManager extends X509ExtendedTrustManager {
  private final TlsFiles files;
  private volatile Built built;

  private record Built(List<X509Certificate> trusted, X509ExtendedTrustManager manager) {}

  FilesTrustManager(TlsFiles files) {
    this.files = files;
  }

  private X509ExtendedTrustManager manager() throws CertificateException {
    List<X509Certificate> trusted = files.currentTrusted();
    Built b = built;
    if (b != null && b.trusted() == trusted) {
      return b.manager();
    }
    try {
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      if (trusted.isEmpty()) {
        factory.init((KeyStore) null);
      } else {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        for (int i = 0; i < trusted.size(); i++) {
          store.setCertificateEntry("ca-" + i, trusted.get(i));
        }
        factory.init(store);
      }
      for (TrustManager m : factory.getTrustManagers()) {
        if (m instanceof X509ExtendedTrustManager x) {
          built = new Built(trusted, x);
          return x;
        }
      }
      throw new CertificateException("the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new CertificateException("cannot build a trust manager over " + files.describe(), e);
    }
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    manager().checkClientTrusted(chain, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    manager().checkServerTrusted(chain, authType, socket);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    manager().checkClientTrusted(chain, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    manager().checkServerTrusted(chain, authType, engine);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    manager().checkClientTrusted(chain, authType);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    manager().checkServerTrusted(chain, authType);
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    try {
      return manager().getAcceptedIssuers();
    } catch (CertificateException e) {
      return new X509Certificate[0];
    }
  }
}
