/* C test of the fastrl C ABI: hand-derived values and error codes. */
#include "fastrl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond, fastrl_last_error());             \
            failures++;                                                          \
        }                                                                        \
    } while (0)

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol; }

static FastrlF32 cf(const float *p, size_t n) { FastrlF32 s = {p, n}; return s; }
static FastrlMutF32 mf(float *p, size_t n) { FastrlMutF32 s = {p, n}; return s; }
static FastrlU8 cu(const uint8_t *p, size_t n) { FastrlU8 s = {p, n}; return s; }

int main(void) {
    /* GAE, gamma = lambda = 0.5, carry mode (see tests/hand_derived.rs). */
    const float r[6] = {1.0f, 2.0f, 55.0f, 1.0f, 100.0f, 3.0f};
    const float v[6] = {0.5f, 1.0f, NAN, 1.0f, 100.0f, 2.0f};
    const uint8_t mask[6] = {1, 1, 0, 1, 0, 1};
    float adv[6], ret[6];
    FastrlParams p = {2, 3, 0.5f, 0.5f, 0.2f, 0, 1};
    CHECK(fastrl_gae_f32(cf(r, 6), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_OK);
    const float want_a[6] = {1.25f, 1.0f, 0.0f, 1.25f, 0.0f, 1.0f};
    const float want_r[6] = {1.75f, 2.0f, 0.0f, 2.25f, 0.0f, 3.0f};
    for (int i = 0; i < 6; i++) {
        CHECK(adv[i] == want_a[i]);
        CHECK(ret[i] == want_r[i]);
    }
    /* Prefix mode rejects the hole; a short buffer, a null pointer, a bad gamma. */
    p.mode = 0;
    CHECK(fastrl_gae_f32(cf(r, 6), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_MASK);
    p.mode = 1;
    CHECK(fastrl_gae_f32(cf(r, 5), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_LENGTH);
    CHECK(strstr(fastrl_last_error(), "rewards") != NULL);
    CHECK(fastrl_gae_f32(cf(NULL, 6), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_NULL);
    p.gamma = 1.5f;
    CHECK(fastrl_gae_f32(cf(r, 6), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_RANGE);
    CHECK(strstr(fastrl_last_error(), "gamma") != NULL);
    p.gamma = 0.5f;
    p.mode = 7;
    CHECK(fastrl_gae_f32(cf(r, 6), cf(v, 6), cu(mask, 6), p, mf(adv, 6), mf(ret, 6)) == FASTRL_STATUS_RANGE);
    p.mode = 1;

    /* Fast RL: rewards 1.0 and 0.3, eta = 1, from uniform: w0 = 1 / (1 + e^0.7). */
    FastrlConfig cfg = fastrl_config_default();
    FastrlComposer *c = NULL;
    CHECK(fastrl_fastrl_new(2, cfg, cf(NULL, 0), &c) == FASTRL_STATUS_OK);
    CHECK(fastrl_composer_num_rewards(c) == 2);
    const float means[2] = {1.0f, 0.3f};
    float w[2];
    CHECK(fastrl_composer_update(c, cf(means, 2), mf(w, 2)) == FASTRL_STATUS_OK);
    CHECK(close_to(w[0], 1.0 / (1.0 + exp(0.7)), 1e-6));
    CHECK(close_to(w[1], 1.0 / (1.0 + exp(-0.7)), 1e-6));
    const float bad_means[2] = {1.0f, NAN};
    CHECK(fastrl_composer_update(c, cf(bad_means, 2), mf(w, 2)) == FASTRL_STATUS_NON_FINITE);
    CHECK(fastrl_composer_update(c, cf(means, 2), mf(w, 1)) == FASTRL_STATUS_LENGTH);
    CHECK(fastrl_composer_update(NULL, cf(means, 2), mf(w, 2)) == FASTRL_STATUS_NULL);
    cfg.eta = -1.0f;
    FastrlComposer *bad = NULL;
    CHECK(fastrl_fastrl_new(2, cfg, cf(NULL, 0), &bad) == FASTRL_STATUS_RANGE);
    CHECK(bad == NULL);
    CHECK(fastrl_fastrl_new(0, cfg, cf(NULL, 0), &bad) == FASTRL_STATUS_REWARDS);

    /* State: save, update both, restore the copy, same next weights. */
    size_t len = fastrl_record_len();
    uint8_t *rec = malloc(len);
    CHECK(fastrl_composer_save(c, rec, len) == FASTRL_STATUS_OK);
    CHECK(fastrl_composer_save(c, rec, len - 1) == FASTRL_STATUS_RECORD);
    cfg.eta = 1.0f;
    FastrlComposer *d = NULL;
    CHECK(fastrl_fastrl_new(2, cfg, cf(NULL, 0), &d) == FASTRL_STATUS_OK);
    CHECK(fastrl_composer_restore(d, cu(rec, len)) == FASTRL_STATUS_OK);
    const float next[2] = {0.2f, 0.9f};
    float w1[2], w2[2];
    CHECK(fastrl_composer_update(c, cf(next, 2), mf(w1, 2)) == FASTRL_STATUS_OK);
    CHECK(fastrl_composer_update(d, cf(next, 2), mf(w2, 2)) == FASTRL_STATUS_OK);
    CHECK(w1[0] == w2[0] && w1[1] == w2[1]);
    rec[100] ^= 0x40;
    CHECK(fastrl_composer_restore(d, cu(rec, len)) == FASTRL_STATUS_RECORD);
    CHECK(fastrl_composer_restore(d, cu(rec, 10)) == FASTRL_STATUS_RECORD);
    free(rec);

    /* safe-rlhf: threshold 0, lr 0.1, lambda0 1, cost mean 2: w = [1, -e^0.2]/(1 + e^0.2). */
    FastrlComposer *s = NULL;
    CHECK(fastrl_safe_rlhf_new(0.0f, 0.1f, 1.0f, 100.0f, &s) == FASTRL_STATUS_OK);
    const float rc[2] = {0.7f, 2.0f};
    CHECK(fastrl_composer_update(s, cf(rc, 2), mf(w, 2)) == FASTRL_STATUS_OK);
    CHECK(close_to(w[0], 1.0 / (1.0 + exp(0.2)), 1e-6));
    CHECK(close_to(w[1], -exp(0.2) / (1.0 + exp(0.2)), 1e-6));

    /* Fused pass by hand (tests/hand_derived.rs, fused_by_hand). */
    const float seq[1] = {1.0f};
    FastrlChannelF32 ch[1] = {{{seq, 1}, 0}};
    const float one[1] = {1.0f};
    const float logp[2] = {-1.0f, -1.0f}, refl[2] = {-1.1f, -1.2f}, vals[2] = {0.0f, 0.5f};
    const uint8_t m2[2] = {1, 1};
    float ro[2], ao[2], to[2];
    FastrlStats st;
    FastrlParams fp = {1, 2, 1.0f, 0.5f, 0.5f, 0, 0};
    CHECK(fastrl_fused_f32(ch, 1, cf(one, 1), cf(logp, 2), cf(refl, 2), cf(vals, 2), cu(m2, 2), fp,
                           mf(ro, 2), mf(ao, 2), mf(to, 2), &st) == FASTRL_STATUS_OK);
    CHECK(close_to(ao[0], 0.65, 1e-6) && close_to(ao[1], 0.4, 1e-6));
    CHECK(close_to(to[0], 0.65, 1e-6) && close_to(to[1], 0.9, 1e-6));
    CHECK(st.valid_tokens == 2 && close_to(st.kl_sum, 0.3, 1e-6));
    CHECK(fastrl_fused_f32(ch, 1, cf(one, 1), cf(logp, 2), cf(refl, 2), cf(vals, 2), cu(m2, 2), fp,
                           mf(ro, 2), mf(ao, 1), mf(to, 2), NULL) == FASTRL_STATUS_LENGTH);
    /* The same in bf16 storage: -1.0, 0.0, 0.5 and 1.0 are exact in bf16. */
    const uint16_t seq_b[1] = {0x3f80}, logp_b[2] = {0xbf80, 0xbf80}, vals_b[2] = {0x0000, 0x3f00};
    const uint16_t refl_b[2] = {0xbf80, 0xbf80};
    FastrlChannelBf16 chb[1] = {{{seq_b, 1}, 0}};
    FastrlBf16 lb = {logp_b, 2}, rb = {refl_b, 2}, vb = {vals_b, 2};
    CHECK(fastrl_fused_bf16(chb, 1, cf(one, 1), lb, rb, vb, cu(m2, 2), fp, mf(ro, 2), mf(ao, 2), mf(to, 2),
                            NULL) == FASTRL_STATUS_OK);
    /* d = 0 so r_exp = [0, 1]; t=1: A = 1 - 0.5 = 0.5; t=0: delta = 0 + 0.5 - 0 = 0.5, A = 0.5 + 0.25 = 0.75. */
    CHECK(ao[1] == 0.5f && ao[0] == 0.75f);

    /* Reference z-scores, by hand: mu = (0.1, 0.5), sigma = (0.05, 0.2), rbar = (0.15, 0.5)
       gives z = (1, 0) and w0 = 1 / (1 + e). Updating before calibration is a CONFIG error. */
    FastrlConfig zc = fastrl_config_default();
    zc.normalize = 2;
    FastrlComposer *z = NULL;
    CHECK(fastrl_fastrl_new(2, zc, cf(NULL, 0), &z) == FASTRL_STATUS_OK);
    const float zm[2] = {0.15f, 0.5f};
    CHECK(fastrl_composer_update(z, cf(zm, 2), mf(w, 2)) == FASTRL_STATUS_CONFIG);
    const float mu[2] = {0.1f, 0.5f}, sd[2] = {0.05f, 0.2f}, sd0[2] = {0.0f, 0.2f};
    CHECK(fastrl_fastrl_set_reference(z, cf(mu, 2), cf(sd0, 2)) == FASTRL_STATUS_RANGE);
    CHECK(fastrl_fastrl_set_reference(z, cf(mu, 2), cf(sd, 2)) == FASTRL_STATUS_OK);
    CHECK(fastrl_composer_update(z, cf(zm, 2), mf(w, 2)) == FASTRL_STATUS_OK);
    CHECK(close_to(w[0], 1.0 / (1.0 + exp(1.0)), 1e-6));
    CHECK(fastrl_fastrl_set_reference(s, cf(mu, 2), cf(sd, 2)) == FASTRL_STATUS_CONFIG);
    zc.compose_on = 1;
    zc.normalize = 0;
    CHECK(fastrl_fastrl_new(2, zc, cf(NULL, 0), &bad) == FASTRL_STATUS_CONFIG);
    /* A bounded composer stays in its KL ball: n = 2, rho = 0.05 allows at most 0.65678. */
    FastrlConfig bc = fastrl_config_default();
    bc.eta = 5.0f;
    bc.bounded = 1;
    bc.radius = 0.05f;
    FastrlComposer *bd = NULL;
    CHECK(fastrl_fastrl_new(2, bc, cf(NULL, 0), &bd) == FASTRL_STATUS_OK);
    const float lag[2] = {0.0f, 1.0f};
    for (int i = 0; i < 20; i++) CHECK(fastrl_composer_update(bd, cf(lag, 2), mf(w, 2)) == FASTRL_STATUS_OK);
    CHECK(close_to(w[0], 0.6567816, 1e-5));
    /* Calibration statistics: rows (1, 2, 3, 4) and (10, 10, 10, 14): means 2.5, 11; stds sqrt(5/3), 2. */
    const float calib[8] = {1, 2, 3, 4, 10, 10, 10, 14};
    float cm[2], cs[2];
    CHECK(fastrl_reference_stats(cf(calib, 8), 2, mf(cm, 2), mf(cs, 2)) == FASTRL_STATUS_OK);
    CHECK(cm[0] == 2.5f && cm[1] == 11.0f && close_to(cs[0], sqrt(5.0 / 3.0), 1e-6) && close_to(cs[1], 2.0, 1e-6));
    const float flat[8] = {1, 2, 3, 4, 5, 5, 5, 5};
    CHECK(fastrl_reference_stats(cf(flat, 8), 2, mf(cm, 2), mf(cs, 2)) == FASTRL_STATUS_GROUP);

    /* GRPO (verl): one group (1, 2, 3): mean 2, std 1: A = (-1, 0, 1) / (1 + 1e-6). */
    const float gr[3] = {1.0f, 2.0f, 3.0f};
    FastrlChannelF32 gch[1] = {{{gr, 3}, 0}};
    const uint32_t gid[3] = {0, 0, 0};
    FastrlU32 gids = {gid, 3};
    const uint8_t gm[3] = {1, 1, 1};
    FastrlParams gp = {3, 1, 1.0f, 1.0f, 0.0f, 0, 0};
    FastrlGroupParams grp = {0, 0, 0, -1, 0};
    float ga[3];
    FastrlGroupStats gs;
    CHECK(fastrl_group_advantages_f32(gch, 1, cf(one, 1), gids, 1, cu(gm, 3), gp, grp, mf(ga, 3), &gs) == FASTRL_STATUS_OK);
    CHECK(close_to(ga[0], -1.0 / (1.0 + 1e-6), 1e-7) && ga[1] == 0.0f && close_to(ga[2], 1.0 / (1.0 + 1e-6), 1e-7));
    CHECK(gs.groups == 1 && gs.singletons == 0);
    /* RLOO: 1 - 2.5, 2 - 2, 3 - 1.5. */
    grp.estimator = 1;
    CHECK(fastrl_group_advantages_f32(gch, 1, cf(one, 1), gids, 1, cu(gm, 3), gp, grp, mf(ga, 3), NULL) == FASTRL_STATUS_OK);
    CHECK(close_to(ga[0], -1.5, 1e-6) && close_to(ga[2], 1.5, 1e-6));
    grp.group_size = 2;
    CHECK(fastrl_group_advantages_f32(gch, 1, cf(one, 1), gids, 1, cu(gm, 3), gp, grp, mf(ga, 3), NULL) == FASTRL_STATUS_GROUP);
    grp.group_size = 0;
    grp.estimator = 9;
    CHECK(fastrl_group_advantages_f32(gch, 1, cf(one, 1), gids, 1, cu(gm, 3), gp, grp, mf(ga, 3), NULL) == FASTRL_STATUS_RANGE);
    CHECK(strstr(fastrl_last_error(), "estimator") != NULL);

    fastrl_composer_free(z);
    fastrl_composer_free(bd);
    fastrl_composer_free(c);
    fastrl_composer_free(d);
    fastrl_composer_free(s);
    fastrl_composer_free(NULL);
    if (failures) {
        fprintf(stderr, "%d C checks failed\n", failures);
        return 1;
    }
    printf("all C checks passed\n");
    return 0;
}
