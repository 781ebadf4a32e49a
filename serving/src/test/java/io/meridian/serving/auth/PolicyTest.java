package io.meridian.serving.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meridian.api.MeridianException;
import io.meridian.api.v1.Error;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyTest {
  private static final Identity OPS = new Identity("ops", Identity.Source.CERTIFICATE);
  private static final Identity APP = new Identity("payments", Identity.Source.CERTIFICATE);

  private final Policy policy =
      Policy.OPEN
          .enable("ops")
          .withRole(
              "payments-rw",
              List.of(
                  new Grant(Permission.READ, "payments"),
                  new Grant(Permission.WRITE, "payments"),
                  new Grant(Permission.WATCH, "pay")))
          .bind("payments", "payments-rw");

  private static void assertRefused(Runnable call, Error.Code code, String message) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            MeridianException.class,
            e -> {
              assertThat(e.code()).isEqualTo(code);
              assertThat(e.getMessage()).contains(message);
            });
  }

  @Test
  void anOpenClusterLetsEveryCallThrough() {
    assertThatCode(() -> Policy.OPEN.check(Identity.ANONYMOUS, Permission.ADMIN, List.of()))
        .doesNotThrowAnyException();
  }

  @Test
  void grantsCoverTheirPrefixAndTheirPermissionOnly() {
    policy.check(APP, Permission.READ, List.of("payments"));
    policy.check(APP, Permission.READ, List.of("payments-eu"));
    policy.check(APP, Permission.WATCH, List.of("payroll"));
    assertRefused(
        () -> policy.check(APP, Permission.READ, List.of("orders")),
        Error.Code.PERMISSION_DENIED,
        "cert:payments lacks `read` on namespace `orders`");
    assertRefused(
        () -> policy.check(APP, Permission.LOCK, List.of("payments")),
        Error.Code.PERMISSION_DENIED,
        "lacks `lock` on namespace `payments`");
  }

  @Test
  void aCallOverTwoNamespacesNeedsBoth() {
    assertRefused(
        () -> policy.check(APP, Permission.READ, List.of("payments", "orders")),
        Error.Code.PERMISSION_DENIED,
        "namespace `orders`");
  }

  @Test
  void aSpanOverSeveralNamespacesIsCoveredOnlyByAGrantOfAllOfThem() {
    // A prefix read of /pay may touch payments, payroll, pay-eu...: `watch` on "pay" covers them
    // all; `read` on "payments" does not.
    policy.check(APP, Permission.WATCH, List.of("pay"));
    assertRefused(
        () -> policy.check(APP, Permission.READ, List.of("pay")),
        Error.Code.PERMISSION_DENIED,
        "namespace `pay`");
    assertRefused(
        () -> policy.check(APP, Permission.WATCH, List.of("")),
        Error.Code.PERMISSION_DENIED,
        "lacks `watch`");
  }

  @Test
  void adminIsClusterWideAndHeldByTheIdentityThatTurnedChecksOn() {
    policy.check(OPS, Permission.ADMIN, List.of());
    policy.check(OPS, Permission.WRITE, List.of("anything"));
    assertRefused(
        () -> policy.check(APP, Permission.ADMIN, List.of()),
        Error.Code.PERMISSION_DENIED,
        "lacks `admin` (cluster-wide)");
    assertThatThrownBy(() -> new Grant(Permission.ADMIN, "payments"))
        .hasMessageContaining("cluster-wide");
  }

  @Test
  void anAnonymousCallerIsUnauthenticatedOnceChecksAreOn() {
    assertRefused(
        () -> policy.check(Identity.ANONYMOUS, Permission.READ, List.of("payments")),
        Error.Code.UNAUTHENTICATED,
        "present a client certificate");
  }

  @Test
  void aTokenNamesItsIdentityUntilRevoked() {
    String token = Tokens.create();
    assertThat(token).startsWith(Tokens.PREFIX);
    Policy issued = policy.withToken(Tokens.hash(token), "payments");
    assertThat(issued.tokens()).doesNotContainKey(token).containsKey(Tokens.hash(token));

    Identity who = issued.identify("some-cert", token);
    assertThat(who).isEqualTo(new Identity("payments", Identity.Source.TOKEN));
    issued.check(who, Permission.WRITE, List.of("payments"));

    Policy revoked = issued.withoutTokensOf("payments");
    assertThat(revoked.version()).isGreaterThan(issued.version());
    assertRefused(
        () -> revoked.identify("some-cert", token), Error.Code.UNAUTHENTICATED, "not known");
  }

  @Test
  void withoutATokenTheCertificateNamesTheCaller() {
    assertThat(policy.identify("ops", null)).isEqualTo(OPS);
    assertThat(policy.identify(null, "")).isEqualTo(Identity.ANONYMOUS);
  }

  @Test
  void everyChangeIsANewerVersionAndBindingNeedsAnExistingRole() {
    assertThat(policy.version()).isGreaterThan(Policy.OPEN.version());
    assertThat(policy.disable().version()).isGreaterThan(policy.version());
    assertThat(policy.disable().enabled()).isFalse();
    assertThatThrownBy(() -> policy.bind("x", "no-such-role")).hasMessageContaining("no role");
    assertThatThrownBy(() -> Policy.OPEN.enable(" ")).hasMessageContaining("admin identity");
  }

  @Test
  void permissionsAreNamedInLowerCase() {
    assertThat(Permission.of("registry")).isEqualTo(Permission.REGISTRY);
    assertThatThrownBy(() -> Permission.of("delete"))
        .hasMessageContaining("read, write, lock, registry, watch, admin");
  }
}
