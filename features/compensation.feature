Feature: Compensation
  When a command one aggregate caused is rejected by another domain, the
  coordinator tells the first aggregate with a rejection notification. A
  `#[rejected]` handler answers with compensating events; with none, the
  aggregate asks the framework to revoke.

  Background:
    Given angzarr-local is serving the player domain

  Scenario: A compensation handler's events are stored on the aggregate that caused the command
    Given the cashier "Till" takes in 500 chips
    And the cashier "Till" pays out 100 chips
    When the player domain refuses the payout's deposit to "Bob", who is not registered
    And the cashier "Till" is told of the rejection
    Then the compensation stores a FundsDeposited at sequence 2
    And the float of cashier "Till" is 500 chips

  Scenario: A rejection an aggregate has no handler for asks for a system revocation
    Given player "Alice" is registered
    When player "Alice" is told that domain "table" rejected her ReserveFunds because "table is full"
    Then the answer is a revocation asking for a system revocation
    And the revocation's reason mentions "table"
    And the history of "Alice" is PlayerRegistered
