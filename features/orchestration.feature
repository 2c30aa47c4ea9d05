Feature: Compensation, process managers and commands run at most once
  A saga's or process manager's command the target refuses is never retried:
  the process manager hears of it first (its `#[rejected]` handlers), then
  the aggregate whose book caused it gets a compensation notification; its
  compensating events are stored and delivered, and a revocation it asks
  for is recorded. A command with a deferred header runs at most once per
  source, target and position, across restarts.

  Scenario: The aggregate that caused a refused command compensates it
    Given angzarr-local runs the player aggregate with the payout saga
    And the cashier "Till" takes in 500 chips
    When the cashier "Till" pays out 100 chips
    Then the cashier history of "Till" becomes FundsDeposited, FundsWithdrawn, FundsDeposited
    And the float of cashier "Till" is 500 chips
    And the history of "Till" is empty

  Scenario: A command that is not refused needs no compensation
    Given angzarr-local runs the player aggregate with the payout saga
    And player "Till" is registered
    And the cashier "Till" takes in 500 chips
    When the cashier "Till" pays out 100 chips
    Then the history of "Till" becomes PlayerRegistered, FundsDeposited
    And the float of cashier "Till" is 400 chips

  Scenario: A refusal the aggregate has no handler for is recorded as a revocation
    Given angzarr-local runs the player aggregate with the overdraw saga and the ledger projector
    And player "Alice" is registered with correlation id "greedy"
    When I deposit 13 chips for "Alice" at sequence 1 with correlation id "greedy"
    Then a revocation of "Alice" is recorded, its reason naming "WithdrawFunds"
    And the history of "Alice" is PlayerRegistered, FundsDeposited
    And the ledger receives the revocations of "Alice": Revocation at 0

  Scenario Outline: A process manager keeps state per correlation id and hears of its refused commands, <where>
    Given angzarr-local runs the player aggregate with the audit process manager <where>
    And player "Alice" is registered with correlation id "audit-1"
    When I deposit 7 chips for "Alice" at sequence 1 with correlation id "audit-1"
    Then the workflow "audit-1" becomes AuditOpened, AuditFlagged, AuditFlagged
    And the audit's flag "lucky seven" saw the player at sequence 2
    And the audit's flag "refused: Insufficient funds" follows it
    And a revocation of "Alice" is recorded, its reason naming "WithdrawFunds"

    Examples:
      | where      |
      | in process |
      | over gRPC  |

  Scenario: Each correlation id is a workflow of its own
    Given angzarr-local runs the player aggregate with the audit process manager
    When I register "Alice" with correlation id "audit-a"
    And I register "Bob" with correlation id "audit-b"
    Then the workflow "audit-a" becomes AuditOpened
    And the workflow "audit-b" becomes AuditOpened

  Scenario: A deferred command runs at most once, even after a restart
    Given angzarr-local runs the player aggregate with the ledger projector
    And player "Alice" is registered
    When table "T1" sends "Alice" a deposit of 5 chips deferred to its sequence 4
    And table "T1" sends "Alice" a deposit of 5 chips deferred to its sequence 4
    And angzarr-local restarts on the same database
    And table "T1" sends "Alice" a deposit of 5 chips deferred to its sequence 4
    Then every answer stored the same FundsDeposited at sequence 1
    And the history of "Alice" is PlayerRegistered, FundsDeposited

  Scenario: The next source sequence is another command
    Given angzarr-local runs the player aggregate with the ledger projector
    And player "Alice" is registered
    When table "T1" sends "Alice" a deposit of 5 chips deferred to its sequence 4
    And table "T1" sends "Alice" a deposit of 5 chips deferred to its sequence 5
    Then the history of "Alice" is PlayerRegistered, FundsDeposited, FundsDeposited
