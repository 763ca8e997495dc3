# Referrals are fields of users.User; the user admin shows a user's referrer and referrals.
