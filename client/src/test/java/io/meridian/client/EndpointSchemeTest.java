package io.meridian.client;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.linecorp.armeria.common.TlsKeyPair;
import com.linecorp.armeria.common.TlsProvider;
import org.junit.jupiter.api.Test;

/** The endpoints' schemes: one for all, https:// or bare with TLS, never http:// with it. */
class EndpointSchemeTest {
  @Test
  void mixedOrContradictorySchemesAreRefused() {
    assertThatThrownBy(
            () ->
                MeridianClient.builder().endpoints("http://10.0.0.1:2379", "https://10.0.0.2:2379"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("mixes https with http");
    assertThatThrownBy(() -> MeridianClient.builder().endpoints("ftp://10.0.0.1:2379"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected: http://host:port, https://host:port or host:port");
    TlsProvider tls = TlsProvider.of(TlsKeyPair.ofSelfSigned());
    assertThatThrownBy(
            () -> MeridianClient.builder().endpoints("http://10.0.0.1:2379").tls(tls).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("name them https://");
  }
}
