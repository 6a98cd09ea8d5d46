// The promotion gate of a request: whether its version is proven on the target's `promotion.from`, as the bot's own
// check on the checklist, what Start must refuse, and the override that two different approvers confirm.
import type { AutomaticCheck } from '../domain/checklist.js';
import { PROMOTION_CHECK_ID } from '../domain/checklist.js';
import {
  canConfirmOverride,
  evaluatePromotion,
  promotionAllowsStart,
  promotionOverrideState,
  whereProven,
  type OverrideState,
  type PromotionGate,
  type VersionProofs,
} from '../domain/promotion.js';
import type { PromotionStore } from '../db/promotion-store.js';
import { AppError } from '../errors.js';
import type { ApproverResolver } from '../slack/approvers.js';
import { overrideRefusal, promotionCheckDetail, promotionCheckTitle, promotionStartRefusal } from '../slack/promotion-words.js';
import type { TargetRegistry } from '../targets/registry.js';

export interface PromotionGateDeps {
  store: PromotionStore;
  targets: TargetRegistry;
  approvers: ApproverResolver;
  now(): Date;
}

/** The gate of one request as of now: null for a target without `promotion` (or a rollback). */
export interface GateDecision {
  gate: PromotionGate;
  override: OverrideState;
  allowsStart: boolean;
}

interface GatedRequest {
  id: string;
  kind: 'upgrade' | 'rollback';
  target: string;
  toVersion: string;
}

export function createPromotionGate(deps: PromotionGateDeps) {
  function policyOf(target: string) {
    return deps.targets.resolve(target).config.promotion ?? null;
  }

  /** The gate for `version` on `target` now; null when the target has no `promotion`. */
  async function evaluate(target: string, version: string): Promise<PromotionGate | null> {
    const policy = policyOf(target);
    if (!policy) return null;
    return evaluatePromotion(policy, version, await deps.store.runs([policy.from]), deps.now());
  }

  function check(gate: PromotionGate): AutomaticCheck {
    return { id: PROMOTION_CHECK_ID, title: promotionCheckTitle(gate), result: gate.holds ? 'ok' : 'failed', detail: promotionCheckDetail(gate, deps.now()) };
  }

  async function decide(request: GatedRequest): Promise<GateDecision | null> {
    if (request.kind !== 'upgrade') return null;
    const gate = await evaluate(request.target, request.toVersion);
    if (!gate) return null;
    const override = promotionOverrideState(await deps.store.overrides(request.id), await deps.approvers.approvers());
    return { gate, override, allowsStart: promotionAllowsStart(gate, override) };
  }

  /** Throws the refusal Start gives while the gate does not hold and the override is not confirmed. */
  function assertAllowsStart(decision: GateDecision | null): void {
    if (!decision || decision.allowsStart || decision.gate.holds) return;
    throw new AppError('request_not_active', promotionStartRefusal(decision.gate, deps.now(), decision.override.missing));
  }

  /**
   * `userId`'s click on the override item. A non-approver's click, a second click of the same approver, or one on a
   * gate that holds (or an override already confirmed) is refused and changes nothing.
   */
  async function confirmOverride(request: GatedRequest, userId: string): Promise<{ recorded: boolean; override: OverrideState }> {
    const decision = await decide(request);
    if (!decision || decision.gate.holds) throw new AppError('request_not_active', overrideRefusal('not_needed'));
    const approvers = await deps.approvers.approvers();
    const first = canConfirmOverride(await deps.store.overrides(request.id), userId, approvers);
    if (!first.ok) throw new AppError(first.why === 'not_an_approver' ? 'not_authorized' : 'request_not_active', overrideRefusal(first.why));
    const recorded = await deps.store.confirmOverride(request.id, userId, (confirmations) => canConfirmOverride(confirmations, userId, approvers).ok);
    const override = promotionOverrideState(await deps.store.overrides(request.id), approvers);
    return { recorded, override };
  }

  /** Where each version has run and how it went; null when no target has `promotion` (nobody asked). */
  async function proofs(): Promise<VersionProofs[] | null> {
    if (!deps.targets.names().some((name) => policyOf(name) !== null)) return null;
    return whereProven(await deps.store.runs(), deps.now());
  }

  return { policyOf, evaluate, check, decide, assertAllowsStart, confirmOverride, proofs };
}

export type PromotionGateService = ReturnType<typeof createPromotionGate>;
