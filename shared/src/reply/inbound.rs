//! Reading an incoming e-mail (checks 1, 2, 4, 5, 7, 8): see the plan.
